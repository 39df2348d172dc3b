"""A customer's personal data: what every app's `privacy.py` shares (docs/security.md, "Customer
data"; decision 0018).

Each app that holds something about a shopper has a `privacy.py` with `export(subject)` (its
sections of the export, plain JSON) and `erase(subject)` (what it changed, counted). The
orchestrating service (`returndesk.privacy.services`) builds the `Subject` once, before anything
is erased, and calls each app inside one transaction, so an app never needs to find the person
again after a lower app has already anonymized the e-mail it would have searched by.

This module also erases what core holds: uploaded photos (files deleted once the transaction
commits) and the audit log's mentions of the e-mail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from returndesk.core.models import AuditLogEntry, Upload

ERASED = "[erased]"
# What a raw inbound body (a shop's order webhook, a payment provider's event) becomes.
REDACTED_BODY = '{"redacted": "the customer\'s personal data was erased"}'


def erased_email(merchant_id: int, email: str) -> str:
    """The stable stand-in for an erased e-mail: the same person at the same merchant always
    gets the same one (erasing twice changes nothing), and it cannot be turned back into the
    address without the installation's SECRET_KEY."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"erase:{merchant_id}:{email}".encode(), hashlib.sha256
    ).hexdigest()
    return f"erased-{digest[:20]}@invalid"


@dataclass(frozen=True)
class Subject:
    """Whom an export or an erasure is about, found once before anything changes."""

    merchant_id: int
    email: str  # normalised: trimmed, lower case
    placeholder: str
    order_ids: frozenset[int] = frozenset()
    order_numbers: frozenset[str] = frozenset()
    return_ids: frozenset[int] = frozenset()
    rans: frozenset[str] = frozenset()
    # Free text the shopper wrote and personal values (name, phone, address lines): replaced by
    # ERASED wherever our own JSON copies them (outbox payloads, the audit log).
    texts: frozenset[str] = field(default=frozenset())

    def scrub(self, value: Any) -> Any:
        """`value` (JSON: dicts, lists, strings) with the e-mail replaced by the placeholder
        and every personal text by ERASED."""
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if not isinstance(value, str):
            return value
        if self.email and self.email in value.lower():
            value = _replace_folded(value, self.email, self.placeholder)
        for text in self.texts:
            if text and text in value:
                value = value.replace(text, ERASED)
        return value


def _replace_folded(value: str, needle: str, replacement: str) -> str:
    """Replace `needle` (lower case) in `value` whatever the case it is written in there."""
    out, lowered, start = [], value.lower(), 0
    while (found := lowered.find(needle, start)) >= 0:
        out.append(value[start:found])
        out.append(replacement)
        start = found + len(needle)
    out.append(value[start:])
    return "".join(out)


def texts_of(values: Iterable[str]) -> frozenset[str]:
    """The personal texts worth replacing: non-empty, and long enough not to be a common word
    fragment (a two-letter region code is not worth blanking everywhere)."""
    return frozenset(v.strip() for v in values if v and len(v.strip()) >= 3)


def mentioning(queryset: Any, field_name: str, needle: str) -> Any:
    """Rows whose JSON (or text) column mentions `needle`, read as text on either engine."""
    return queryset.annotate(_as_text=Cast(field_name, TextField())).filter(
        _as_text__icontains=needle
    )


def uploads_export(*, merchant_id: int, ids: Iterable[str]) -> list[dict[str, Any]]:
    rows = Upload.objects.filter(merchant_id=merchant_id, public_id__in=set(ids))
    return [
        {
            "id": u.public_id,
            "purpose": u.purpose,
            "content_type": u.content_type,
            "size_bytes": u.size_bytes,
            "uploaded_by": u.uploaded_by,
            "created_at": u.created_at,
        }
        for u in rows.order_by("created_at", "pk")
    ]


def uploads_erase(*, merchant_id: int, ids: Iterable[str]) -> int:
    """Delete the merchant's uploads with these ids: the rows now, the stored files once the
    transaction commits (a rollback keeps both)."""
    rows = Upload.objects.filter(merchant_id=merchant_id, public_id__in=set(ids))
    files = [(u.file.storage, str(u.file.name)) for u in rows if u.file]
    deleted, _ = rows.delete()

    def remove() -> None:
        for storage, name in files:
            storage.delete(name)

    transaction.on_commit(remove)
    return deleted


def scrub_rows(rows: Iterable[Any], field_name: str, subject: Subject) -> int:
    """Save each row whose JSON or text `field_name` changes when scrubbed; answers how many."""
    changed = 0
    for row in rows:
        scrubbed = subject.scrub(getattr(row, field_name))
        if scrubbed != getattr(row, field_name):
            setattr(row, field_name, scrubbed)
            row.save(update_fields=[field_name, "updated_at"])
            changed += 1
    return changed


def _audit_mentions(subject: Subject) -> Any:
    entries = AuditLogEntry.objects.filter(merchant_id=subject.merchant_id).annotate(
        _changes=Cast("changes", TextField())
    )
    return entries.filter(
        Q(object_ref__iexact=subject.email) | Q(_changes__icontains=subject.email)
    )


def export(subject: Subject) -> dict[str, Any]:
    return {
        "audit_log": [
            {
                "action": e.action,
                "object_type": e.object_type,
                "object_ref": e.object_ref,
                "actor": e.actor_label,
                "changes": e.changes,
                "created_at": e.created_at,
            }
            for e in _audit_mentions(subject).order_by("created_at", "pk")
        ]
    }


def erase(subject: Subject) -> dict[str, int]:
    """The audit log keeps every entry (who did what, when); its mentions of the e-mail become
    the placeholder and the shopper's texts are blanked."""
    changed = 0
    for entry in _audit_mentions(subject):
        entry.object_ref = subject.scrub(entry.object_ref)
        entry.changes = subject.scrub(entry.changes)
        entry.save(update_fields=["object_ref", "changes"])
        changed += 1
    return {"audit_entries": changed}
