"""The audit log of staff and configuration actions."""

from __future__ import annotations

from typing import Any

from returndesk.core.actors import Actor
from returndesk.core.models import AuditLogEntry


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_ref: str,
    merchant_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        merchant_id=merchant_id,
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        actor_api_key_id=actor.api_key_id,
        action=action,
        object_type=object_type,
        object_ref=object_ref,
        changes=changes or {},
    )
