"""`returndesk media backup|restore|verify`: every stored file copied out with its SHA-256 and
back into another storage, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError


def test_backup_restore_and_verify(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "old")
    files = {"uploads/2026/11/a.jpg": b"\xff\xd8photo", "logos/acme.png": b"\x89PNGlogo",
             "labels/2026/11/lbl_1.pdf": b"%PDF-1.4 label"}  # fmt: skip
    for name, data in files.items():
        assert default_storage.save(name, ContentFile(data)) == name
    backup = tmp_path / "backup"
    call_command("media", "backup", str(backup))
    assert set(json.loads((backup / "manifest.json").read_text())) == set(files)

    settings.MEDIA_ROOT = str(tmp_path / "new")
    call_command("media", "restore", str(backup))
    for name, data in files.items():
        assert default_storage.open(name).read() == data
    call_command("media", "verify", str(backup))

    default_storage.delete("logos/acme.png")
    with pytest.raises(CommandError, match=r"logos/acme\.png"):
        call_command("media", "verify", str(backup))
