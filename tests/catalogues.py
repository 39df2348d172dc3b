"""A translation catalogue made for a test: the shipped catalogue is English only, so tests that
check text goes through gettext install a few words of another language."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from django.conf import settings as django_settings


def install_german(settings: Any, folder: Path, messages: dict[str, str]) -> None:
    """Compile `messages` (English -> German) under `folder` and let Django find them first;
    `settings` is pytest-django's fixture, so everything is put back after the test."""
    catalog = Catalog(locale="de")
    for english, german in messages.items():
        catalog.add(english, german)
    target = folder / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (target / "django.mo").write_bytes(buffer.getvalue())
    settings.LOCALE_PATHS = [folder, *django_settings.LOCALE_PATHS]
    settings.LANGUAGES = [("en", "English"), ("de", "Deutsch")]
