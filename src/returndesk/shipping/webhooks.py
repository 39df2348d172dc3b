"""Reading inbound carrier webhooks: checking their signatures and parsing their bodies.

No ORM here: bytes and headers in, a verdict or a `TrackingUpdate` out, so every drift of a
carrier's payload can be tested alone. Two formats (docs/tracking-webhooks.md):

- EasyPost's events (`tracker.created`, `tracker.updated`), signed over the body alone with
  `X-Hmac-Signature: hmac-sha256-hex=...`; checked by the official library's `validate_webhook`.
  EasyPost retries for days, so its events are not judged by age (they are deduplicated by id).
- The generic format, signed Stripe-style over `timestamp.body` in `ReturnDesk-Signature:
  t=<unix seconds>,v1=<hex>`; refused when the timestamp is more than five minutes away.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime
from easypost.errors import SignatureVerificationError
from easypost.util import validate_webhook

from returndesk.shipping.carriers.base import TrackingEvent

EASYPOST_SIGNATURE_HEADER = "X-Hmac-Signature"
GENERIC_SIGNATURE_HEADER = "ReturnDesk-Signature"
GENERIC_TOLERANCE = timedelta(minutes=5)
# Headers kept with the stored body: what is needed to check the signature again, and to tell
# senders apart. Never the Authorization header.
KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    EASYPOST_SIGNATURE_HEADER,
    GENERIC_SIGNATURE_HEADER,
)

# The normalized vocabulary (EasyPost's, plus `lost`).
UNKNOWN = "unknown"
PRE_TRANSIT = "pre_transit"
IN_TRANSIT = "in_transit"
OUT_FOR_DELIVERY = "out_for_delivery"
AVAILABLE_FOR_PICKUP = "available_for_pickup"
DELIVERED = "delivered"
RETURN_TO_SENDER = "return_to_sender"
FAILURE = "failure"
LOST = "lost"
CANCELLED = "cancelled"
ERROR = "error"
# How far along a parcel is; a later stage is never undone by an earlier one arriving late.
PROGRESS = {
    PRE_TRANSIT: 1,
    IN_TRANSIT: 2,
    OUT_FOR_DELIVERY: 3,
    AVAILABLE_FOR_PICKUP: 3,
    DELIVERED: 4,
}
# Statuses staff must look at.
EXCEPTIONS = frozenset({RETURN_TO_SENDER, FAILURE, LOST})
STATUSES = frozenset({UNKNOWN, CANCELLED, ERROR, *PROGRESS, *EXCEPTIONS})
# What carriers have been seen to send instead (Shippo's TRANSIT and RETURNED, spellings).
ALIASES = {
    "transit": IN_TRANSIT,
    "intransit": IN_TRANSIT,
    "pretransit": PRE_TRANSIT,
    "label_created": PRE_TRANSIT,
    "outfordelivery": OUT_FOR_DELIVERY,
    "returned": RETURN_TO_SENDER,
    "return_to_shipper": RETURN_TO_SENDER,
    "failed": FAILURE,
    "exception": FAILURE,
    "canceled": CANCELLED,
}


class SignatureRejected(Exception):
    """The webhook is unsigned, tampered with, signed with another secret, or stale."""


class UnreadablePayload(Exception):
    """Signed, but not a body we can read (not JSON, no tracking number)."""


@dataclass(frozen=True)
class TrackingUpdate:
    """What a webhook says: the sender's event id, the tracking number, its scans."""

    event_id: str
    tracking_number: str
    status: str  # the sender's current status, normalized
    scans: tuple[TrackingEvent, ...]
    carrier: str = ""  # who moves the parcel, when the sender says


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers stored with the raw body (`headers` is case-insensitive, like Django's)."""
    return {name: headers[name] for name in KEPT_HEADERS if headers.get(name) is not None}


def normalize_status(value: object) -> str:
    """A carrier's status in our vocabulary; anything unrecognized is `unknown`."""
    if not isinstance(value, str):
        return UNKNOWN
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    return key if key in STATUSES else UNKNOWN


def event_id_of(body: bytes, data: Any) -> str:
    """The sender's event id; a body without one is identified by its hash, so an identical
    retry is still a duplicate."""
    if isinstance(data, dict):
        found = data.get("id")
        if isinstance(found, (str, int)) and not isinstance(found, bool) and str(found).strip():
            return str(found).strip()[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


# --- signatures ---


def verify_easypost(body: bytes, headers: Mapping[str, str], secrets: Iterable[str]) -> None:
    """EasyPost's HMAC over the body, checked by the official library against each secret
    (several while one is being rotated). Raises SignatureRejected."""
    given = headers.get(EASYPOST_SIGNATURE_HEADER)
    if not given:
        raise SignatureRejected(f"No {EASYPOST_SIGNATURE_HEADER} header: the webhook is unsigned.")
    candidates = [s for s in secrets if s]
    if not candidates:
        raise SignatureRejected("No EasyPost webhook secret is configured here.")
    for secret in candidates:
        try:
            validate_webhook(body, {EASYPOST_SIGNATURE_HEADER: given}, secret)
        except SignatureVerificationError:
            continue
        except ValueError:
            return  # the signature matched; the library could not parse the body (ours will say)
        return
    raise SignatureRejected("The X-Hmac-Signature does not match the body.")


def generic_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The generic format's `v1` signature: HMAC-SHA256 over `<timestamp>.<body>`, hex."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def generic_signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The whole header value a sender of the generic format puts on a request."""
    return f"t={timestamp},v1={generic_signature(secret, timestamp, body)}"


def verify_generic(
    body: bytes, headers: Mapping[str, str], secrets: Iterable[str], *, now: datetime
) -> None:
    """`ReturnDesk-Signature: t=...,v1=...[,v1=...]`, within five minutes of now. Raises
    SignatureRejected."""
    given = headers.get(GENERIC_SIGNATURE_HEADER)
    if not given:
        raise SignatureRejected(f"No {GENERIC_SIGNATURE_HEADER} header: the webhook is unsigned.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in given.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.strip().isdigit():
            timestamp = int(value.strip())
        elif key == "v1" and value.strip():
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise SignatureRejected(f"{GENERIC_SIGNATURE_HEADER} needs t=<unix seconds> and v1=<hex>.")
    candidates = [s for s in secrets if s]
    if not candidates:
        raise SignatureRejected("No webhook secret is configured for this carrier.")
    matched = any(
        hmac.compare_digest(generic_signature(secret, timestamp, body), signature)
        for secret in candidates
        for signature in signatures
    )
    if not matched:
        raise SignatureRejected(f"The {GENERIC_SIGNATURE_HEADER} does not match the body.")
    # Checked after the signature, so the answer says nothing about timing to a forger.
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    if abs(now - signed_at) > GENERIC_TOLERANCE:
        raise SignatureRejected(
            f"The signature's timestamp ({signed_at.isoformat()}) is more than five minutes "
            "from now; send a fresh signature with every attempt."
        )


# --- parsing ---


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadablePayload(f"The body is not JSON: {exc}") from None


def _text(value: object, limit: int = 500) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()[:limit]


def _when(value: object) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # carriers that omit the offset mean UTC
    return parsed


def _place(value: object) -> str:
    if isinstance(value, str):
        return value.strip()[:200]
    if not isinstance(value, dict):
        return ""
    parts = [value.get(k) for k in ("city", "state", "country", "zip")]
    return ", ".join(str(p).strip() for p in parts if p not in (None, ""))[:200]


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) not in (None, ""):
            return data[key]
    return None


def parse_easypost(body: bytes) -> TrackingUpdate | None:
    """A `tracker.*` event; None for EasyPost's other event types (nothing to track)."""
    data = _json(body)
    if not isinstance(data, dict):
        raise UnreadablePayload("The body is not a JSON object.")
    description = _text(data.get("description"))
    tracker = data.get("result")
    if not description.startswith("tracker.") or not isinstance(tracker, dict):
        return None
    tracking_number = _text(tracker.get("tracking_code"), 64)
    if not tracking_number:
        raise UnreadablePayload("The tracker has no tracking_code.")
    status = normalize_status(tracker.get("status"))
    scans: list[TrackingEvent] = []
    details = tracker.get("tracking_details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        scans.append(
            TrackingEvent(
                status=normalize_status(detail.get("status")),
                at=_when(detail.get("datetime")),
                message=_text(_first(detail, "message", "description")),
                location=_place(detail.get("tracking_location")),
            )
        )
    if not scans and status != UNKNOWN:
        # A tracker without its details still says where the parcel is.
        scans.append(
            TrackingEvent(
                status=status,
                at=_when(tracker.get("updated_at")) or _when(data.get("created_at")),
                message=_text(tracker.get("status_detail")),
            )
        )
    return TrackingUpdate(
        event_id=event_id_of(body, data),
        tracking_number=tracking_number,
        status=status,
        scans=tuple(scans),
        carrier=_text(tracker.get("carrier"), 60),
    )


def parse_generic(body: bytes) -> TrackingUpdate:
    """One scan in the generic format: `id`, `tracking_number`, `status`, `occurred_at`,
    `details` (docs/tracking-webhooks.md). Read leniently: the status in any case or a
    known synonym, a location as text or parts, `details` as an object or plain text."""
    data = _json(body)
    if not isinstance(data, dict):
        raise UnreadablePayload("The body is not a JSON object.")
    tracking_number = _text(_first(data, "tracking_number", "tracking_code"), 64)
    if not tracking_number:
        raise UnreadablePayload("The event has no tracking_number.")
    raw_details = data.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    message = _text(raw_details) if isinstance(raw_details, str) else ""
    message = message or _text(_first(details, "message", "description", "status_details"))
    status = normalize_status(data.get("status"))
    scan = TrackingEvent(
        status=status,
        at=_when(_first(data, "occurred_at", "status_date", "datetime")),
        message=message,
        location=_place(_first(details, "location", "tracking_location")),
    )
    return TrackingUpdate(
        event_id=event_id_of(body, data),
        tracking_number=tracking_number,
        status=status,
        scans=(scan,),
        carrier=_text(data.get("carrier"), 60),
    )
