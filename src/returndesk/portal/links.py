"""Signed, expiring links to a return's status page: no account, no password, and a link that
names another merchant's return, was altered or has expired opens nothing."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from returndesk.tenants.models import Merchant

# Long enough for a return to ship, arrive, be checked and refunded.
STATUS_LINK_MAX_AGE = timedelta(days=90)


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def _signer(merchant: Merchant) -> signing.TimestampSigner:
    # The merchant in the salt: a link signed for one merchant is worthless under another.
    return signing.TimestampSigner(salt=f"returndesk.portal.status:{merchant.pk}")


def status_token(merchant: Merchant, ran: str) -> str:
    return _signer(merchant).sign(ran)


def status_url(merchant: Merchant, ran: str) -> str:
    return reverse("portal:status", args=[merchant.slug, status_token(merchant, ran)])


def status_link(merchant: Merchant, ran: str) -> str:
    """The status link in full, for e-mails: no request to build it from, so the public address
    comes from settings (RETURNDESK_PUBLIC_URL). Registered with notifications' e-mails."""
    return settings.RETURNDESK_PUBLIC_URL.rstrip("/") + status_url(merchant, ran)


def status_ran(merchant: Merchant, token: str) -> str:
    """The RAN a status link names, or LinkExpired / LinkInvalid."""
    try:
        return _signer(merchant).unsign(token, max_age=STATUS_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
