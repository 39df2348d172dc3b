from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.fields import UtcDateTime
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS, PolicyOut
from returndesk.policies import selectors, services
from returndesk.policies.models import PolicyVersion
from returndesk.returns import simulation as returns_simulation
from returndesk.tenants import permissions as perm

router = Router(tags=["policy"])


def policy_out(version: PolicyVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "published_at": version.created_at,
        "published_by": version.published_by,
        "document": version.document,
    }


@router.get("/policy", response={200: PolicyOut, **PROBLEMS})
def policy_get(request: HttpRequest) -> HttpResponse:
    """The merchant's current return policy (version 1 is the default policy)."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        return json_response(policy_out(selectors.policy_current(merchant=merchant)))


@router.put("/policy", response={201: PolicyOut, **PROBLEMS})
def policy_put(request: HttpRequest, payload: dict[str, Any] = Body(...)) -> HttpResponse:  # noqa: B008
    """Validate a policy document and publish it as the next version."""
    with merchant_context(request, perm.POLICY_MANAGE) as (principal, merchant):
        version = services.policy_publish(
            actor=principal.actor, merchant=merchant, document=payload
        )
        return json_response(policy_out(version), 201)


@router.get("/policy/versions/{version}", response={200: PolicyOut, **PROBLEMS})
def policy_version(request: HttpRequest, version: int) -> HttpResponse:
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        return json_response(
            policy_out(selectors.policy_version_get(merchant=merchant, version=version))
        )


class SimulationIn(BaseModel):
    model_config = {"extra": "forbid"}
    policy: dict[str, Any] = Field(description="the draft policy document")
    created_from: UtcDateTime | None = None
    created_to: UtcDateTime | None = None


@router.post("/policy/simulate", response={200: dict[str, Any], **PROBLEMS})
def policy_simulate(request: HttpRequest, payload: SimulationIn) -> HttpResponse:
    """Replay the recorded returns of a period under a draft policy next to the current one:
    counts eligible, ineligible and to review, fees, refunds, and the largest differences."""
    with merchant_context(request, perm.POLICY_MANAGE) as (_, merchant):
        report = returns_simulation.policy_simulate(
            merchant=merchant,
            draft_document=payload.policy,
            date_from=payload.created_from,
            date_to=payload.created_to,
        )
        return json_response(report)
