"""Expiry as the worker runs it: the periodic job expires an authorized return that was not
shipped before the policy's deadline, voids its unused label, and leaves the outbox row that
tells the merchant and the shopper (delivery is the notifications issue's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from returndesk.core.codes import parse_ran
from returndesk.core.scheduling import PERIODIC_JOBS, ensure_job_rows, run_due_jobs
from returndesk.notifications.models import OutboxMessage
from returndesk.returns.models import Return
from returndesk.shipping.models import Label
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db
EXPIRY = tuple(job for job in PERIODIC_JOBS if job.name == "expire_returns")


def test_the_expiry_job_expires_voids_and_tells(
    api: ApiClient,
    authorized: dict[str, Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ran = parse_ran(authorized["ran"])
    assert api.post(f"/returns/{authorized['ran']}/label", {}).status_code == 201
    returns = Return.objects.with_scopes_disabled()  # type: ignore[attr-defined]
    ret = returns.get(ran=ran)
    ensure_job_rows(EXPIRY)
    assert run_due_jobs(worker_id="w1", jobs=EXPIRY) == ["expire_returns"]
    assert returns.get(ran=ran).status == "authorized"  # the deadline has not passed

    returns.filter(pk=ret.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        ran_jobs = run_due_jobs(worker_id="w1", jobs=EXPIRY, now=timezone.now() + EXPIRY[0].every)
    assert ran_jobs == ["expire_returns"]
    assert returns.get(ran=ran).status == "expired"
    assert Label.objects.with_scopes_disabled().get(return_request=ret).status == "voided"  # type: ignore[attr-defined]
    told = OutboxMessage.objects.with_scopes_disabled().get(  # type: ignore[attr-defined]
        type="return.expired", merchant_id=ret.merchant_id
    )
    assert told.payload["data"]["ran"] == ran
    assert told.payload["data"]["reason"] == "not shipped before the deadline"
