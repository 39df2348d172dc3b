"""What every portal page shares: the merchant from the URL, the client's address for rate
limits, the shopper as an actor, and rendering with the merchant's branding."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from returndesk.core.actors import Actor
from returndesk.core.colours import readable_on
from returndesk.core.errors import FieldError, ValidationFailed
from returndesk.core.uploads import MAX_UPLOAD_BYTES, upload_create
from returndesk.tenants.models import Merchant


def merchant_or_404(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug, is_active=True).first()
    if merchant is None:
        raise Http404
    return merchant


def client_address(request: HttpRequest) -> str:
    # Behind a reverse proxy, RETURNDESK_TRUSTED_PROXIES makes REMOTE_ADDR the client's address
    # (observability/middleware.py); without it every shopper shares the proxy's limit.
    return request.META.get("REMOTE_ADDR", "unknown")


def shopper(*, gift: bool) -> Actor:
    """The shopper as the timeline records them: never by name or e-mail, so nothing on the
    return's record tells the buyer who sent a gift back."""
    return Actor.shopper("gift recipient (portal)" if gift else "shopper (portal)")


def page(
    request: HttpRequest,
    template: str,
    merchant: Merchant,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    brand = merchant.brand_color or "#1F6FEB"
    return render(
        request,
        template,
        {"merchant": merchant, "brand": brand, "brand_text": readable_on(brand), **(context or {})},
        status=status,
    )


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """Service field errors by field, for showing each in place."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field, error.message)
    return found


def problem_text(message: str) -> str:
    """A service message as a sentence for the shopper."""
    message = message.strip()
    if not message:
        return _("Something went wrong. Please try again.")
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


def image_upload(
    *, actor: Actor, merchant: Merchant, upload: UploadedFile, purpose: str
) -> tuple[str, str]:
    """A shopper's photo or receipt through the upload service (checked by content, capped,
    metadata stripped): (the upload's id, "") or ("", why it can't be used)."""
    name = upload.name or _("the file")
    if (upload.size or 0) > MAX_UPLOAD_BYTES:
        return "", _("“%(name)s” is over %(mb)d MB. Send a smaller photo.") % {
            "name": name,
            "mb": MAX_UPLOAD_BYTES // 2**20,
        }
    try:
        stored = upload_create(
            actor=actor, merchant_id=merchant.pk, data=upload.read(), purpose=purpose
        )
    except ValidationFailed as exc:
        problem = exc.errors[0].message if exc.errors else exc.detail
        return "", _("“%(name)s” can't be used: %(problem)s.") % {"name": name, "problem": problem}
    return stored.public_id, ""
