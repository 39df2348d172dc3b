"""The audit log page: staff and configuration actions, filtered by actor and action, one
merchant's entries (and the provider-wide ones for provider staff), a fixed number of queries
per page."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from returndesk.console.access import Seat
from returndesk.console.views.admin import console_page
from returndesk.console.views.common import page_context
from returndesk.core.audit import audit_actions, audit_entries
from returndesk.tenants import permissions as perm

PAGE = 50


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "\u2013"
    if value in ("", None):
        return "\u2013"
    return str(value)


def change_lines(changes: dict[str, Any]) -> list[tuple[str, str]]:
    """An entry's changes as lines to read: before and after where the service recorded both."""
    lines = []
    for name, value in changes.items():
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            lines.append((name, f"{_shown(value['from'])} \u2192 {_shown(value['to'])}"))
        else:
            lines.append((name, _shown(value)))
    return lines


@console_page(perm.AUDIT_VIEW)
@require_GET
def audit_log(request: HttpRequest, seat: Seat) -> HttpResponse:
    include_provider = seat.can(perm.PROVIDER_MERCHANTS)
    actor = request.GET.get("actor", "").strip()[:200]
    actions = audit_actions(merchant_id=seat.merchant.pk, include_provider=include_provider)
    action = request.GET.get("action", "")
    if action not in actions:
        action = ""
    entries = audit_entries(
        merchant_id=seat.merchant.pk, include_provider=include_provider, actor=actor, action=action
    )
    page = Paginator(entries, PAGE).get_page(request.GET.get("page"))
    filters = urlencode({k: v for k, v in (("actor", actor), ("action", action)) if v})
    return render(
        request,
        "console/audit.html",
        page_context(
            seat,
            page=page,
            entries=[(e, change_lines(e.changes)) for e in page.object_list],
            actions=actions,
            actor=actor,
            action=action,
            filters=filters,
            include_provider=include_provider,
        ),
    )


urlpatterns = [path("m/<slug:slug>/audit/", audit_log, name="audit")]
