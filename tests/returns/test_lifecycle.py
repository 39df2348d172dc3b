"""Every move of API.md's status table, allowed and illegal, through the one transition function."""

from __future__ import annotations

import itertools

import pytest

from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.errors import InvalidTransition
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.models import OutboxMessage
from returndesk.returns.lifecycle import return_transition
from returndesk.returns.models import STATUSES, TRANSITIONS, Return, ReturnEvent

ACTOR = Actor.system("tests")
ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() if a for b in targets}


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_each_move_is_allowed_exactly_as_the_table_says(merchant, source: str, target: str) -> None:  # type: ignore[no-untyped-def]
    with merchant_scope(merchant):
        ret = Return.objects.create(
            merchant=merchant,
            ran=generate_ran(),
            status=source,
            channel="api",
            resolution="refund",
            currency="USD",
            created_by_label="tests",
        )
        if (source, target) in ALLOWED:
            return_transition(ret=ret, to_status=target, actor=ACTOR, reason="because")
            assert Return.objects.get(pk=ret.pk).status == target
            event = ReturnEvent.objects.get(return_request=ret)
            assert (event.from_status, event.to_status, event.type) == (
                source,
                target,
                f"return.{target}",
            )
            assert OutboxMessage.objects.get().event_id == event.public_id
        else:
            with pytest.raises(InvalidTransition):
                return_transition(ret=ret, to_status=target, actor=ACTOR, reason="because")
            assert Return.objects.get(pk=ret.pk).status == source
            assert not ReturnEvent.objects.exists()
            assert not OutboxMessage.objects.exists()


def test_the_table_is_api_mds() -> None:
    assert len(ALLOWED) == 16
    assert TRANSITIONS["expired"] == frozenset({"authorized"})
