import mimetypes
import posixpath

from django.conf import settings
from django.contrib import admin
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path

from returndesk.api.main import api, healthz
from returndesk.observability.views import metrics, readyz


def _superusers_only(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = _superusers_only  # type: ignore[method-assign]
admin.site.site_header = "ReturnDesk administration"


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/console/")


# Browsers ask for /favicon.ico on every page; a small mark beats a 404 in every log.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1F6FEB"/>'
    '<path d="M4 8h6M7 5l3 3-3 3" stroke="#fff" stroke-width="1.6" fill="none"/></svg>'
)


def favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def media(request: HttpRequest, path: str) -> FileResponse:
    """Merchant logos: the only uploaded files a browser is given. Each was re-encoded by the
    upload check, so it is an image and nothing else; other uploads (photos, receipts) are
    never served from here. Read through the default storage (a folder or an S3 bucket)."""
    # Only names inside logos/: "../" or an absolute path never reaches a sibling folder.
    name = posixpath.normpath(path)
    if name != path or name.startswith(("/", "..")) or "\\" in name or "\x00" in name:
        raise Http404
    stored = f"logos/{name}"
    if not default_storage.exists(stored):
        raise Http404
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(stored, "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("", home),
    path("favicon.ico", favicon),
    path(f"{settings.MEDIA_URL.strip('/')}/logos/<path:path>", media),
    path("healthz", healthz),
    path("readyz", readyz),
    path("metrics", metrics),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("returndesk.console.urls")),
    path("r/", include("returndesk.portal.urls")),
]
