from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Router, UploadedFile
from pydantic import BaseModel

from returndesk.api.auth import merchant_context
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.uploads import upload_create
from returndesk.tenants import permissions as perm

router = Router(tags=["uploads"])


class UploadOut(BaseModel):
    upload_id: str
    purpose: str
    content_type: str
    size_bytes: int
    width: int
    height: int


@router.post("/uploads", response={201: UploadOut, **PROBLEMS})
def upload(
    request: HttpRequest,
    file: File[UploadedFile],
    purpose: Form[Literal["photo", "receipt"]] = "photo",
) -> HttpResponse:
    """A photo or a proof of purchase (JPEG, PNG or WebP, up to 10 MiB), checked by content and
    stored without its metadata; answers the `upload_id` to reference in a return."""
    with merchant_context(request, perm.RETURNS_CREATE) as (principal, merchant):
        stored = upload_create(
            actor=principal.actor, merchant_id=merchant.pk, data=file.read(), purpose=purpose
        )
        return json_response(
            {
                "upload_id": stored.public_id,
                "purpose": stored.purpose,
                "content_type": stored.content_type,
                "size_bytes": stored.size_bytes,
                "width": stored.width,
                "height": stored.height,
            },
            201,
        )
