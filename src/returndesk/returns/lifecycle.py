"""The one function that changes a return's status, driven by `models.TRANSITIONS`.

It locks the row, checks the move, saves, writes the timeline event and the outbox row, all in
the caller's transaction. An illegal move raises InvalidTransition (HTTP 409), never a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.errors import InvalidTransition
from returndesk.core.ids import new_public_id
from returndesk.notifications.services import outbox_enqueue
from returndesk.returns.models import (
    AUTHORIZED,
    RELEASED_STATUSES,
    TRANSITIONS,
    Return,
    ReturnEvent,
)

# Apps above returns that must act when a return stops holding its units (cancelled, expired,
# rejected) register here; each runs inside the transition's transaction, so whatever it
# records commits or rolls back with the status (shipping voids the unused label).
ReleaseHook = Callable[..., None]
_release_hooks: list[ReleaseHook] = []


# Apps above returns that must act on every move (refunds: money may have become due) register
# here; each runs inside the transition's transaction, after the event is written.
TransitionHook = Callable[..., None]
_transition_hooks: list[TransitionHook] = []


def on_transition(hook: TransitionHook) -> None:
    """Call `hook(ret=, from_status=, to_status=, actor=)` on every status change."""
    if hook not in _transition_hooks:
        _transition_hooks.append(hook)


def on_release(hook: ReleaseHook) -> None:
    """Call `hook(ret=, to_status=, actor=)` whenever a return is released."""
    if hook not in _release_hooks:
        _release_hooks.append(hook)


def return_event_record(
    *,
    ret: Return,
    type: str,
    actor: Actor,
    channel: str = "",
    reason: str = "",
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
    notify: bool = True,
) -> ReturnEvent:
    """Append to the timeline and, unless told not to, queue the event for whoever listens."""
    event = ReturnEvent.objects.create(
        merchant_id=ret.merchant_id,
        return_request=ret,
        public_id=new_public_id("evt"),
        type=type,
        from_status=from_status,
        to_status=to_status,
        actor_label=actor.label,
        channel=channel,
        reason=reason,
        payload=payload or {},
    )
    if notify:
        outbox_enqueue(
            merchant_id=ret.merchant_id,
            type=type,
            event_id=event.public_id,
            at=event.created_at,
            data={
                "ran": ret.ran,
                # the buyer's (a gift's recipient is never named here: docs/decisions/0017)
                "email": ret.email or None,
                "status": ret.status,
                "order_number": ret.order.order_number if ret.order_id and ret.order else None,
                "from_status": from_status or None,
                "reason": reason or None,
                **(payload or {}),
            },
        )
    return event


def return_transition(
    *,
    ret: Return,
    to_status: str,
    actor: Actor,
    reason: str = "",
    channel: str = "",
    payload: dict[str, Any] | None = None,
    notify: bool = True,
    lock_held: bool = False,
) -> Return:
    """Move a return to `to_status` if the table allows it from where it is now.

    With `lock_held=True` the caller's transaction already holds the row lock and `ret` is the
    row as read under it (with its order, when notifying): the move is made on `ret` itself,
    without locking and reading the row again, and without a savepoint of its own (an error
    rolls the caller's transaction back)."""
    if lock_held and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("return_transition(lock_held=True) needs the caller's transaction")
    with transaction.atomic(savepoint=not lock_held):
        locked = (
            ret
            if lock_held
            else Return.objects.select_for_update(of=("self",))
            .select_related("order")
            .get(pk=ret.pk)
        )
        from_status = locked.status
        if to_status not in TRANSITIONS.get(from_status or None, frozenset()):
            raise InvalidTransition(
                f"Return {locked.ran} is {from_status or 'new'}; it cannot become {to_status}."
            )
        locked.status = to_status
        fields = ["status", "updated_at"]
        if to_status == AUTHORIZED:
            locked.authorized_at = timezone.now()
            fields.append("authorized_at")
            days = int(locked.decision.get("days_to_ship", 14))
            locked.expires_at = locked.authorized_at + timedelta(days=days)
            fields.append("expires_at")
        locked.save(update_fields=fields)
        return_event_record(
            ret=locked,
            type=f"return.{to_status}",
            actor=actor,
            channel=channel,
            reason=reason,
            from_status=from_status,
            to_status=to_status,
            payload=payload,
            notify=notify,
        )
        if to_status in RELEASED_STATUSES:
            for hook in _release_hooks:
                hook(ret=locked, to_status=to_status, actor=actor)
        for transition_hook in _transition_hooks:
            transition_hook(ret=locked, from_status=from_status, to_status=to_status, actor=actor)
    if not lock_held:
        ret.refresh_from_db()
    return ret


def return_exception_flag(
    *, ret: Return, reason: str, actor: Actor, payload: dict[str, Any] | None = None
) -> Return:
    """Flag the return for staff (a carrier's return to sender, failure or loss): the status
    stays, the console lists it among exceptions, and the timeline says why."""
    with transaction.atomic():
        locked = Return.objects.select_for_update(of=("self",)).get(pk=ret.pk)
        locked.exception_reason = reason
        locked.exception_at = timezone.now()
        locked.save(update_fields=["exception_reason", "exception_at", "updated_at"])
        return_event_record(
            ret=locked,
            type="return.exception_flagged",
            actor=actor,
            reason=reason,
            payload=payload,
            notify=False,
        )
    ret.refresh_from_db()
    return ret


def return_exception_clear(*, ret: Return, reason: str, actor: Actor) -> Return:
    """Staff have dealt with the flagged exception; the timeline keeps both."""
    with transaction.atomic():
        locked = Return.objects.select_for_update(of=("self",)).get(pk=ret.pk)
        if locked.exception_at is None:
            return locked
        locked.exception_reason = ""
        locked.exception_at = None
        locked.save(update_fields=["exception_reason", "exception_at", "updated_at"])
        return_event_record(
            ret=locked,
            type="return.exception_cleared",
            actor=actor,
            reason=reason,
            notify=False,
        )
    ret.refresh_from_db()
    return ret
