"""Where uploaded and generated files live: Django's default storage, the local media folder
for the demo, an S3-compatible bucket in production (settings: RETURNDESK_S3_BUCKET and the
rest, docs/deploy.md). Code reads and writes files only through `default_storage` or a
FileField, never through paths, so both work and several web processes and workers on
different machines see the same files.

The bucket stays private. No file is handed to a browser by a bucket URL: the application
serves the few files browsers may have (merchant logos at /media/logos/, label PDFs through the
API) after its own checks, so a file's `url` is always the application's own path.
"""

from __future__ import annotations

from django.conf import settings
from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    """django-storages' S3 backend with the application's own URLs (see above)."""

    def url(
        self,
        name: str | None,
        parameters: object = None,
        expire: object = None,
        http_method: object = None,
    ) -> str:
        return f"{settings.MEDIA_URL}{(name or '').lstrip('/')}"
