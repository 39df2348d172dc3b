"""Accepting uploads: checked by content (the bytes must decode as an image; the name and the
declared type are not trusted), capped in size and pixels, and re-encoded so that no metadata
(EXIF, GPS, camera serials) survives."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.db import transaction
from django_scopes import scopes_disabled
from PIL import Image, ImageOps, UnidentifiedImageError

from returndesk.core.actors import Actor
from returndesk.core.errors import ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.models import Upload

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; anything larger is refused, not decoded
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PURPOSES = ("photo", "receipt")


def _clean_image(data: bytes) -> tuple[bytes, str, int, int]:
    """The image re-encoded without metadata: (bytes, content type, width, height)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if kind not in ACCEPTED:
                    raise ValidationFailed.on(
                        "file", f"send a JPEG, PNG or WebP image (this is {kind or 'unknown'})"
                    )
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValidationFailed.on("file", "the image has more than 40 megapixels")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombWarning):
        raise ValidationFailed.on("file", "the file is not a readable image") from None
    out = io.BytesIO()
    if kind == "JPEG":
        upright.convert("RGB").save(out, "JPEG", quality=90)
    elif kind == "PNG":
        upright.save(out, "PNG")
    else:
        upright.save(out, "WEBP", quality=90)
    return out.getvalue(), ACCEPTED[kind], upright.width, upright.height


def image_clean(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[bytes, str]:
    """An image checked by content, capped, and re-encoded without metadata, for images kept
    outside uploads (a merchant's logo): (bytes, content type). Errors are on field `file`."""
    if not data:
        raise ValidationFailed.on("file", "the file is empty")
    if len(data) > max_bytes:
        raise ValidationFailed.on("file", f"the file is over {max_bytes // 2**10} KiB")
    clean, content_type, _, _ = _clean_image(data)
    return clean, content_type


@transaction.atomic
def upload_create(
    *,
    actor: Actor,
    merchant_id: int | None,
    data: bytes,
    purpose: str = "photo",
    facility_id: int | None = None,
) -> Upload:
    """Check, clean and store an uploaded image; answers the record to reference by id. It
    belongs to the merchant, or (`merchant_id` None) to the facility that photographed a package
    nobody could match yet; a facility keeps photos only."""
    if (merchant_id is None) == (facility_id is None):
        raise ValueError("an upload belongs to a merchant or to a facility")
    if facility_id is not None and purpose != "photo":
        raise ValidationFailed.on("purpose", "a facility uploads photos only")
    if purpose not in PURPOSES:
        raise ValidationFailed.on("purpose", f"must be one of {', '.join(PURPOSES)}")
    if not data:
        raise ValidationFailed.on("file", "the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed.on("file", f"the file is over {MAX_UPLOAD_BYTES // 2**20} MiB")
    clean, content_type, width, height = _clean_image(data)
    public_id = new_public_id("upl")
    extension = content_type.split("/")[1].replace("jpeg", "jpg")
    upload = Upload(
        merchant_id=merchant_id,
        facility_id=facility_id,
        public_id=public_id,
        purpose=purpose,
        content_type=content_type,
        size_bytes=len(clean),
        width=width,
        height=height,
        sha256=hashlib.sha256(clean).hexdigest(),
        uploaded_by=actor.label,
    )
    upload.file.save(f"{public_id}.{extension}", ContentFile(clean), save=False)
    upload.save()
    return upload


def uploads_check(
    *,
    merchant_id: int | None = None,
    facility_id: int | None = None,
    ids: Iterable[str],
    purpose: str,
    field: str,
) -> None:
    """Every id names an upload of this merchant (or, with `facility_id`, a photo this facility
    still owns) made for this purpose, or a 422 says which."""
    wanted = set(ids)
    if not wanted:
        return
    if facility_id is not None:
        with scopes_disabled():  # a facility's photos belong to no merchant: no scope has them
            owned = Upload.objects.filter(facility_id=facility_id, merchant__isnull=True)
            found = set(
                owned.filter(public_id__in=wanted, purpose=purpose).values_list(
                    "public_id", flat=True
                )
            )
    else:
        if merchant_id is None:
            raise ValueError("name the merchant or the facility whose uploads these are")
        found = set(
            Upload.objects.filter(
                merchant_id=merchant_id, public_id__in=wanted, purpose=purpose
            ).values_list("public_id", flat=True)
        )
    missing = sorted(wanted - found)
    if missing:
        raise ValidationFailed.on(field, f"no {purpose} upload with id {', '.join(missing)}")


def uploads_transfer(*, ids: Iterable[str], facility_id: int, merchant_id: int) -> list[str]:
    """Hand a facility's photos to a merchant (an unidentified package turned out to be one of
    its returns): from now on only that merchant sees them, and the facility no longer owns
    them. Call inside the transaction that links the package; answers the ids moved."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    with scopes_disabled():
        owned = Upload.objects.filter(
            facility_id=facility_id, merchant__isnull=True, public_id__in=wanted
        )
        moved = list(owned.values_list("public_id", flat=True))
        owned.update(merchant_id=merchant_id, facility=None)
    return [public_id for public_id in wanted if public_id in moved]
