"""Portal text goes through gettext: with a catalogue for another language, a shopper whose
browser asks for it reads the portal in it, while money and dates follow the merchant's
locale. The shipped English catalogue is current with the templates and code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from returndesk.tenants.models import Merchant
from tests.catalogues import install_german
from tests.conftest import require_outside

pytestmark = pytest.mark.django_db


@pytest.fixture
def german(settings: Any, tmp_path: Path) -> None:
    install_german(
        settings,
        tmp_path,
        {"Start a return": "Rücksendung starten", "Find my order": "Bestellung finden"},
    )


def test_the_portal_speaks_the_shoppers_language(german: None, merchant: Merchant) -> None:
    german_page = Client(headers={"accept-language": "de"}).get("/r/acme/").content.decode()
    assert "Rücksendung starten" in german_page and "Bestellung finden" in german_page
    assert '<html lang="de"' in german_page
    english_page = Client(headers={"accept-language": "en"}).get("/r/acme/").content.decode()
    assert "Start a return" in english_page


def test_the_english_catalogue_is_current() -> None:
    require_outside(
        "GNU gettext", shutil.which("xgettext") is not None, "install Debian's gettext package"
    )
    po = (
        Path(django_settings.SRC_DIR) / "returndesk" / "locale" / "en" / "LC_MESSAGES" / "django.po"
    )
    shipped = po.read_text()
    command = [sys.executable, "-m", "django", "makemessages", "--locale", "en"]
    command += ["--ignore", "migrations/*", "--no-location", "--no-obsolete"]
    try:  # makemessages has no dry run: extract in place, compare, put the file back
        result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            command, cwd=po.parents[3], capture_output=True, text=True, check=False
        )
        fresh = po.read_text()
    finally:
        po.write_text(shipped)
    assert result.returncode == 0, result.stderr

    def ids(text: str) -> set[str]:
        return {line for line in text.splitlines() if line.startswith("msgid")}

    assert ids(fresh) == ids(shipped), "run `make messages` and commit the catalogue"
