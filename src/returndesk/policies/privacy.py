"""A customer's personal data in policies: the merchant's blocklist entry for their e-mail (core/
privacy.py says how the apps' privacy modules fit together).

Erasure turns the entry's value into the placeholder: the merchant asked for the erasure, and an
entry that still matched the address would still be their e-mail. A merchant that must keep
blocking the person on a legal ground does not erase them. The provider's own entries (no
merchant) are not the merchant's to erase.
"""

from __future__ import annotations

from typing import Any

from returndesk.core.privacy import Subject
from returndesk.policies.models import BlocklistEntry


def _entries(subject: Subject) -> Any:
    return BlocklistEntry.objects.filter(
        merchant_id=subject.merchant_id, kind="email", value=subject.email
    )


def export(subject: Subject) -> dict[str, Any]:
    return {
        "blocklist": [
            {"value": e.value, "note": e.note, "created_at": e.created_at}
            for e in _entries(subject).order_by("pk")
        ]
    }


def erase(subject: Subject) -> dict[str, int]:
    changed = 0
    for entry in _entries(subject):
        placeholder = BlocklistEntry.objects.filter(
            merchant_id=subject.merchant_id, kind="email", value=subject.placeholder
        )
        if placeholder.exists():  # erased before: the earlier stand-in already stands for it
            entry.delete()
        else:
            entry.value = subject.placeholder
            entry.note = subject.scrub(entry.note)
            entry.save(update_fields=["value", "note"])
        changed += 1
    return {"blocklist_entries": changed}
