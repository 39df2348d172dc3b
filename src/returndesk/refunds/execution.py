"""Paying refunds through their providers, and the worker's refund jobs.

A provider refund is a row with a lease. `refund_execute` claims it (a conditional update, so
one worker at a time), writes an attempt row and commits, then calls the provider with the
refund's idempotency key, then records the answer. A worker killed during the call leaves an
attempt `in_flight` and a lease that expires; the next claim calls again with the same key, and
the provider answers with the refund it already made. Nothing is paid twice and nothing is
forgotten. Errors without an answer back off (1, 5, 30 minutes, 2 and 6 hours: all inside the
24 hours a Stripe idempotency key lives) up to the merchant's `max_attempts`; then the refund is
`failed`, visible with its message and a retry action.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.leases import claim_due
from returndesk.refunds.models import (
    FAILED,
    KIND_PAYMENT,
    PENDING,
    PROCESSING,
    SUCCEEDED,
    PaymentSettings,
    Refund,
    RefundAttempt,
    RefundTrigger,
)
from returndesk.refunds.providers import provider_for
from returndesk.refunds.providers.base import ProviderError, RefundOrder, RefundOutcome
from returndesk.refunds.services import (
    NotDueYet,
    NothingDue,
    payment_settings_for,
    refund_fail,
    refund_succeed,
    refunds_reconcile,
    refunds_settle,
    return_settled,
)
from returndesk.returns.lifecycle import return_transition
from returndesk.returns.models import COMPLETED, INSPECTED, Return

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
WORKER = Actor.system("refund worker")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _api_base(provider: str) -> str | None:
    name = {"stripe": "RETURNDESK_STRIPE_API_BASE", "paypal": "RETURNDESK_PAYPAL_API_BASE"}
    return getattr(django_settings, name.get(provider, ""), None) or None


def credentials(settings: PaymentSettings, provider: str) -> dict[str, str]:
    if provider == "stripe":
        return {
            "secret_key": settings.stripe_secret_key,
            "webhook_secret": settings.stripe_webhook_secret,
        }
    if provider == "paypal":
        return {
            "client_id": settings.paypal_client_id,
            "client_secret": settings.paypal_client_secret,
            "environment": settings.paypal_environment,
        }
    return {}


def _claim(refund_pk: int, worker: str, now: Any) -> bool:
    won = (
        Refund._base_manager.filter(
            pk=refund_pk, kind=KIND_PAYMENT, status__in=(PENDING, PROCESSING)
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + LEASE, claimed_by=worker)
    )
    return bool(won)


def refund_execute(refund_pk: int, *, worker: str | None = None) -> str:
    """Make (or finish) one provider refund; answers its status afterwards. Safe to call from
    any number of processes at once: only the one holding the lease calls the provider."""
    worker = worker or worker_id()
    now = timezone.now()
    with scopes_disabled():
        if not _claim(refund_pk, worker, now):
            return Refund._base_manager.get(pk=refund_pk).status
        with transaction.atomic():
            refund = (
                Refund._base_manager.select_for_update(of=("self",))
                .select_related("return_request", "settlement")
                .get(pk=refund_pk)
            )
            if refund.status not in (PENDING, PROCESSING) or refund.claimed_by != worker:
                return refund.status
            refund.attempts += 1
            refund.status = PROCESSING
            refund.save(update_fields=["attempts", "status", "updated_at"])
            attempt = RefundAttempt.objects.create(
                merchant_id=refund.merchant_id,
                refund=refund,
                number=refund.attempts,
                worker=worker,
                started_at=now,
            )
        settings = payment_settings_for(refund.merchant_id)
        order = RefundOrder(
            refund_id=refund.public_id,
            idempotency_key=refund.idempotency_key,
            amount=refund.amount,
            currency=refund.currency,
            payment_reference=refund.payment_reference,
            reason="requested_by_customer",
        )
        outcome: RefundOutcome | None = None
        error: ProviderError | None = None
        try:
            provider = provider_for(
                refund.provider,
                credentials(settings, refund.provider),
                api_base=_api_base(refund.provider),
            )
            outcome = provider.refund(order)
        except ProviderError as exc:
            error = exc
        except Exception as exc:  # a bug or an unexpected library error: recorded, retried
            logger.exception("refund %s: provider call raised", refund.public_id)
            error = ProviderError(f"{type(exc).__name__}: {exc}", retryable=True)
        return _record(refund.pk, attempt.pk, worker, outcome, error, settings.max_attempts)


def _record(
    refund_pk: int,
    attempt_pk: int,
    worker: str,
    outcome: RefundOutcome | None,
    error: ProviderError | None,
    max_attempts: int,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        refund = (
            Refund._base_manager.select_for_update(of=("self",))
            .select_related("return_request", "settlement")
            .get(pk=refund_pk)
        )
        attempt = RefundAttempt._base_manager.get(pk=attempt_pk)
        attempt.finished_at = now
        if refund.status not in (PENDING, PROCESSING):
            # A webhook settled it while we were calling: the provider's word stands.
            attempt.outcome = outcome.status if outcome else "error"
            attempt.save()
            return refund.status
        if outcome is not None:
            attempt.outcome = outcome.status
            attempt.message = outcome.message
            attempt.response = dict(outcome.raw)
            attempt.save()
            if outcome.reference and not refund.provider_reference:
                refund.provider_reference = outcome.reference
            if outcome.status == "succeeded":
                refund_succeed(refund=refund, reference=outcome.reference, actor=WORKER)
            elif outcome.status == "failed":
                refund_fail(
                    refund=refund,
                    message=outcome.message or "the provider refused the refund",
                    actor=WORKER,
                )
            else:
                # pending: the provider confirms by webhook. Never call again: after 24 hours the
                # same key would no longer find this refund and would make another.
                refund.next_attempt_at = None
                refund.claimed_until = None
                refund.save()
            return refund.status
        assert error is not None
        attempt.outcome = "error"
        attempt.message = error.message
        attempt.response = dict(error.raw)
        attempt.save()
        made = refund.attempts - refund.retry_from
        if not error.retryable or made >= max_attempts:
            refund_fail(
                refund=refund,
                message=f"{error.message} (after {made} attempt(s))",
                actor=WORKER,
            )
        else:
            refund.failure_message = error.message
            refund.next_attempt_at = now + BACKOFF[min(made - 1, len(BACKOFF) - 1)]
            refund.claimed_until = None
            refund.save()
        return refund.status


def refunds_execute_due(limit: int = 50) -> int:
    """The worker's job: execute provider refunds that are due (new, backing off, or left
    in flight by a killed worker once their lease expired)."""
    worker = worker_id()
    done = 0
    with scopes_disabled():
        ids = claim_due(
            Refund._base_manager.filter(kind=KIND_PAYMENT, status__in=(PENDING, PROCESSING)),
            worker_id=worker,
            now=timezone.now(),
            lease=LEASE,
            limit=limit,
        )
    for pk in ids:
        # The claim above is this worker's; release it so refund_execute's own claim wins.
        Refund._base_manager.filter(pk=pk, claimed_by=worker).update(claimed_until=None)
        refund_execute(pk, worker=worker)
        done += 1
    return done


def refunds_execute_now(refund_ids: list[str]) -> None:
    """Execute freshly settled provider refunds in the request that settled them, after the
    commit (the worker picks up whatever this does not finish)."""
    with scopes_disabled():
        pks = list(
            Refund._base_manager.filter(
                public_id__in=refund_ids, kind=KIND_PAYMENT, status=PENDING
            ).values_list("pk", flat=True)
        )
    for pk in pks:
        try:
            refund_execute(pk)
        except Exception:  # the worker retries; the request still answers what was settled
            logger.exception("refund execution in the request failed; the worker will retry")


def return_money_check(ret: Return, *, actor: Actor = WORKER) -> None:
    """Everything the worker does when a return's facts change: settle what became due, open
    adjustments for what later facts took back, and complete a settled inspected return.
    Exchanges move on too (exchanges.py): decided, released, their differences refunded and
    their reconciliation before the refunds' (one adjustment per cause covers both); the
    payment links they wait for are asked for last (a provider call)."""
    from returndesk.refunds import exchanges  # it imports this module

    try:
        settlement = refunds_settle(ret=ret, actor=actor)
    except (NotDueYet, NothingDue):
        settlement = None
    exchange_refunds = exchanges.exchanges_advance(ret=ret, actor=actor)
    exchanges.exchanges_reconcile(ret=ret, actor=actor)
    refunds_reconcile(ret=ret, actor=actor)
    if settlement is not None:
        refunds_execute_now(list(settlement.refunds.values_list("public_id", flat=True)))
    refunds_execute_now(exchange_refunds)
    return_complete_if_settled(ret=ret, actor=actor)
    exchanges.exchanges_collect(ret=ret, actor=actor)


def return_complete_if_settled(*, ret: Return, actor: Actor = WORKER) -> bool:
    """inspected → completed once every received unit has its disposition and all the money is
    settled."""
    from returndesk.warehouse.models import Disposition, Inspection

    ret.refresh_from_db()
    if ret.status != INSPECTED:
        return False
    inspected = Inspection.objects.filter(return_request=ret).count()
    disposed = Disposition.objects.filter(return_request=ret).count()
    if disposed < inspected or not return_settled(ret):
        return False
    with transaction.atomic():
        locked = (
            Return.objects.select_for_update(of=("self",)).select_related("order").get(pk=ret.pk)
        )
        if locked.status != INSPECTED:
            return False
        return_transition(
            ret=locked,
            to_status=COMPLETED,
            actor=actor,
            reason="every unit dispositioned and all money settled",
            lock_held=True,
        )
    return True


def refund_triggers_process(limit: int = 50) -> int:
    """The worker's job: look at the money of returns whose facts changed."""
    from returndesk.core.tenancy import merchant_scope

    worker = worker_id()
    now = timezone.now()
    with scopes_disabled():
        ids = claim_due(
            RefundTrigger._base_manager.filter(done_at__isnull=True),
            worker_id=worker,
            now=now,
            lease=LEASE,
            limit=limit,
        )
        triggers = list(
            RefundTrigger._base_manager.filter(pk__in=ids).select_related("return_request")
        )
    for trigger in triggers:
        ret = trigger.return_request
        try:
            with merchant_scope(ret.merchant_id):
                return_money_check(ret)
            RefundTrigger._base_manager.filter(pk=trigger.pk, claimed_by=worker).update(
                done_at=timezone.now(), claimed_until=None, last_error=""
            )
        except Exception as exc:
            logger.exception("refund trigger for %s failed", ret.ran)
            attempts = trigger.attempts + 1
            RefundTrigger._base_manager.filter(pk=trigger.pk).update(
                attempts=attempts,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=timezone.now() + BACKOFF[min(attempts - 1, len(BACKOFF) - 1)],
                claimed_until=None,
            )
    return len(triggers)


def returns_complete_settled(limit: int = 200) -> int:
    """The worker's job: complete inspected returns whose dispositions and money are done
    (dispositions come after the inspection that triggered the last money check)."""
    from returndesk.core.tenancy import merchant_scope

    with scopes_disabled():
        candidates = list(
            Return._base_manager.filter(status=INSPECTED).order_by("updated_at")[:limit]
        )
    done = 0
    for ret in candidates:
        with merchant_scope(ret.merchant_id):
            done += return_complete_if_settled(ret=ret)
    return done


__all__ = [
    "FAILED",
    "SUCCEEDED",
    "refund_execute",
    "refund_triggers_process",
    "refunds_execute_due",
    "refunds_execute_now",
    "return_complete_if_settled",
    "return_money_check",
    "returns_complete_settled",
]
