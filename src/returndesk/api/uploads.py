from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django_scopes import scopes_disabled
from ninja import File, Form, Router, UploadedFile
from pydantic import BaseModel

from returndesk.api.auth import merchant_context, principal_of
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.codes import parse_ran
from returndesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from returndesk.core.models import Upload
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import upload_create
from returndesk.returns.models import Return
from returndesk.tenants import permissions as perm
from returndesk.warehouse.selectors import facility_get

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
    ran: Form[str] = "",
    facility: Form[str] = "",
) -> HttpResponse:
    """A photo or a proof of purchase (JPEG, PNG or WebP, up to 10 MiB), checked by content and
    stored without its metadata; answers the `upload_id` to reference in a return. A provider
    (station) key sends photos of a package or an item it received: it names the return's
    `ran`, whose merchant must be one its facilities serve, and the photo belongs to that
    merchant like every other upload of the return. A package that matched nothing has no
    merchant yet: the key names instead the `facility` (code, one of its own) that received it,
    the photo belongs to that facility for `PUT /unidentified-packages/{id}`, and it goes to
    the return's merchant when the package is linked."""
    principal = principal_of(request)
    if principal.merchant is None and (
        principal.can(perm.RECEIVING) or principal.can(perm.INSPECTION)
    ):
        if purpose != "photo":
            raise ValidationFailed.on("purpose", "a station uploads photos only")
        if ran.strip() and facility.strip():
            raise ValidationFailed.on("facility", "name the return or the facility, not both")
        if facility.strip():
            if not principal.can(perm.UNIDENTIFIED):
                raise PermissionDenied("This key may not handle unidentified packages.")
            place = facility_get(code=facility, facility_ids=principal.facility_ids)
            stored = upload_create(
                actor=principal.actor,
                merchant_id=None,
                facility_id=place.pk,
                data=file.read(),
                purpose=purpose,
            )
            return json_response(_shown(stored), 201)
        if not ran.strip():
            raise ValidationFailed.on(
                "ran",
                "name the return the photo is about (or the facility, for a package "
                "that matched nothing)",
            )
        with scopes_disabled():
            ret = (
                Return.objects.filter(ran=parse_ran(ran), merchant_id__in=principal.merchant_ids)
                .select_related("merchant")
                .first()
            )
        if ret is None:
            raise NotFound(f"No return {ran} at your facilities.")
        with merchant_scope(ret.merchant):
            stored = upload_create(
                actor=principal.actor,
                merchant_id=ret.merchant_id,
                data=file.read(),
                purpose=purpose,
            )
            return json_response(_shown(stored), 201)
    with merchant_context(request, perm.RETURNS_CREATE) as (principal, merchant):
        stored = upload_create(
            actor=principal.actor, merchant_id=merchant.pk, data=file.read(), purpose=purpose
        )
        return json_response(_shown(stored), 201)


def _shown(stored: Upload) -> dict[str, Any]:
    return {
        "upload_id": stored.public_id,
        "purpose": stored.purpose,
        "content_type": stored.content_type,
        "size_bytes": stored.size_bytes,
        "width": stored.width,
        "height": stored.height,
    }
