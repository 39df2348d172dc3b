from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.management.base import CommandError, CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand

MANIFEST = "manifest.json"


def stored_names(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name in the storage, depth first (a folder or an S3 bucket alike)."""
    folders, files = storage.listdir(folder)
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from stored_names(storage, f"{folder}/{sub}" if folder else sub)


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise CommandError(f"refusing the stored name {name!r}")
    return path


class Command(ReturnDeskCommand):
    help = (
        "Copy every stored file (uploads, logos, label PDFs) between Django's default storage "
        "(the media folder, or the S3 bucket named by RETURNDESK_S3_BUCKET) and a local folder, "
        "with a manifest of SHA-256 sums: `media backup DIR`, `media restore DIR`, "
        "`media verify DIR` (docs/deploy.md, backups)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["backup", "restore", "verify"])
        parser.add_argument("folder")

    def handle(self, *args: Any, **o: Any) -> None:
        folder = Path(o["folder"])
        if o["action"] == "backup":
            self._backup(folder)
        elif o["action"] == "restore":
            self._restore(folder)
        else:
            self._verify(folder)

    def _backup(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, str] = {}
        for name in stored_names(default_storage):
            with default_storage.open(name, "rb") as stored:
                data = stored.read()
            target = folder / "files" / _safe(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            manifest[name] = hashlib.sha256(data).hexdigest()
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        self.stdout.write(f"backed up {len(manifest)} files to {folder}")

    def _manifest(self, folder: Path) -> dict[str, str]:
        try:
            loaded: dict[str, str] = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise CommandError(f"{folder / MANIFEST} is missing: not a media backup") from exc
        return loaded

    def _restore(self, folder: Path) -> None:
        manifest = self._manifest(folder)
        for name, digest in manifest.items():
            data = (folder / "files" / _safe(name)).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise CommandError(f"{name}: the backup's copy does not match its manifest")
            if default_storage.exists(name):
                default_storage.delete(name)
            saved = default_storage.save(name, ContentFile(data))
            if saved != name:
                raise CommandError(f"{name} was stored as {saved}")
        self.stdout.write(f"restored {len(manifest)} files from {folder}")
        self._verify(folder)

    def _verify(self, folder: Path) -> None:
        manifest = self._manifest(folder)
        present = set(stored_names(default_storage))
        missing = sorted(set(manifest) - present)
        differing = []
        for name in sorted(set(manifest) & present):
            with default_storage.open(name, "rb") as stored:
                if hashlib.sha256(stored.read()).hexdigest() != manifest[name]:
                    differing.append(name)
        extra = len(present - set(manifest))
        self.stdout.write(
            f"verified {len(manifest)} files: {len(missing)} missing, {len(differing)} "
            f"different, {extra} not in the backup"
        )
        if missing or differing:
            raise CommandError(f"missing: {missing[:5]} different: {differing[:5]}")
