"""The audit log of staff and configuration actions."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

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


def audit_entries(
    *, merchant_id: int, include_provider: bool, actor: str = "", action: str = ""
) -> QuerySet[AuditLogEntry]:
    """A merchant's entries, newest first; with `include_provider`, also the provider-wide ones
    (facilities, provider keys and roles). `actor` matches part of the actor's label."""
    where = Q(merchant_id=merchant_id)
    if include_provider:
        where |= Q(merchant__isnull=True)
    entries = AuditLogEntry.objects.filter(where)
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    if action:
        entries = entries.filter(action=action)
    return entries.order_by("-created_at", "-id")


def audit_actions(*, merchant_id: int, include_provider: bool) -> list[str]:
    """The actions that occur in the entries one may see, for a filter."""
    return list(
        audit_entries(merchant_id=merchant_id, include_provider=include_provider)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
