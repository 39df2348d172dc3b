"""Writes for refunds: settling what is due, adjustments, finance's actions, payment settings.

Exactly once: `refunds_settle` locks the return's row, works out what is due from the facts and
every earlier settlement, and writes the settlement and one `Refund` row per payment before any
provider is called (execution.py makes the calls). Two requests at once serialize on the lock;
the second finds nothing due. A settlement number unique per return backs the lock.
docs/refunds.md, "Paying it".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.money import Money
from returndesk.credit.services import gift_card_credit, store_credit_issue
from returndesk.notifications.services import outbox_enqueue
from returndesk.policies.document import PolicyDocument
from returndesk.policies.services import policy_document
from returndesk.refunds.calculator import (
    CurrencyMismatch,
    RefundCalculation,
    RefundInvalid,
    RefundRequest,
    calculate,
)
from returndesk.refunds.models import (
    ADJUSTMENT_ACTIONS,
    FAILED,
    KIND_GIFT_CARD,
    KIND_MANUAL,
    KIND_PAYMENT,
    KIND_STORE_CREDIT,
    OPEN,
    PENDING,
    PROCESSING,
    RESOLVED,
    SUCCEEDED,
    Adjustment,
    PaymentSettings,
    Refund,
    RefundTrigger,
    Settlement,
)
from returndesk.refunds.snapshot import REACHED, ReturnSnapshot, return_snapshot, returned_lines
from returndesk.refunds.tenders import ALLOCATION_RULES, DEFAULT_PROVIDERS, LEDGER_METHODS, MANUAL
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import (
    CANCELLED,
    COMPLETED,
    EXPIRED,
    INSPECTED,
    LOST,
    REJECTED,
    Return,
)

RELEASED = frozenset({CANCELLED, EXPIRED, LOST, REJECTED})
# With execution.BACKOFF, eight attempts end within 21 hours: inside the 24 hours Stripe keeps
# an idempotency key, so a retry can never pay twice.
MAX_ATTEMPTS = 8
# How long a provider can be trusted to recognise an idempotency key (Stripe: 24 hours).
KEY_LIFETIME = timedelta(hours=23)


class NothingDue(Conflict):
    code = "nothing_due"
    title = "Nothing due"


class NotDueYet(Conflict):
    code = "not_due_yet"
    title = "Not due yet"


class RefundStateConflict(Conflict):
    code = "refund_state"
    title = "Refund cannot do that now"


def payment_settings_for(merchant_id: int) -> PaymentSettings:
    found = PaymentSettings.objects.filter(merchant_id=merchant_id).first()
    return found or PaymentSettings(merchant_id=merchant_id)


def configured_providers(settings: PaymentSettings) -> tuple[str, ...]:
    """Providers whose adapter can pay for this merchant: the credentials are there."""
    have = {
        "stripe": bool(settings.stripe_secret_key),
        "paypal": bool(settings.paypal_client_id and settings.paypal_client_secret),
    }
    return tuple(p for p in DEFAULT_PROVIDERS if have.get(p))


def return_policy(ret: Return) -> PolicyDocument:
    """The policy the return was decided under (the default for one that predates policies)."""
    return policy_document(ret.policy_version) if ret.policy_version else PolicyDocument()


def refund_timing(ret: Return) -> str:
    """When this return's money is due: the decision's timing (the engine already holds high
    risk and untrusted customers back), and inspection for one that went through review."""
    timing = str(ret.decision.get("refund_timing") or "inspection")
    policy = return_policy(ret)
    if ret.risk_score > policy.high_risk_threshold:
        return "inspection"
    return timing if timing in REACHED else "inspection"


@dataclass(frozen=True)
class RefundPlan:
    """What a return's money looks like now: the timing, whether it is reached, the calculation
    of what is due now (None when nothing), and the full picture as the facts stand."""

    timing: str
    reached: bool
    due: RefundCalculation | None
    units: dict[int, tuple[int, int]]  # ReturnLine pk -> (first unit index, count) due now
    issued: Money
    reason: str  # why nothing is due, for people


def _exchange_line_ids(ret: Return) -> set[int]:
    return {line.pk for line in ret.lines.all() if line.exchange_sku}


def _calculate(
    snap: ReturnSnapshot, units: dict[int, tuple[int, int]], prior: Any, fee_taken: int
) -> RefundCalculation | None:
    lines = returned_lines(snap, units)
    if not lines:
        return None
    ret = snap.ret
    resolution = "store_credit" if ret.resolution == "store_credit" or ret.gift else "refund"
    settings = payment_settings_for(ret.merchant_id)
    try:
        return calculate(
            return_policy(ret),
            snap.order,
            RefundRequest(
                lines=lines,
                resolution=resolution,
                currency=ret.currency,
                return_fee_taken=fee_taken,
            ),
            prior,
            allocation_rule=settings.allocation_rule,
            providers=configured_providers(settings),
        )
    except CurrencyMismatch as exc:
        raise ValidationFailed(str(exc), code="currency_mismatch") from None
    except RefundInvalid as exc:
        raise Conflict(f"The refund cannot be worked out: {exc}", code="refund_invalid") from None


def refund_plan(ret: Return) -> RefundPlan:
    """What is due now for `ret`, computed as `refunds_settle` would; writes nothing."""
    snap = return_snapshot(ret)
    timing = refund_timing(ret)
    issued = Money(snap.issued, ret.currency)
    if ret.status not in REACHED[timing]:
        why = (
            f"nothing is due while the return is {ret.status}"
            if ret.status in RELEASED or ret.status in ("pending_review",)
            else f"the money is due on {timing.replace('_', ' ')}; the return is {ret.status}"
        )
        return RefundPlan(timing, False, None, {}, issued, why)
    skip = _exchange_line_ids(ret)
    units: dict[int, tuple[int, int]] = {}
    for line in snap.lines():
        if line.pk in skip:
            continue
        done = snap.settled_units.get(line.pk, 0)
        more = snap.eligible.get(line.pk, 0) - done
        if more > 0:
            units[line.pk] = (done, more)
    if not units:
        return RefundPlan(
            timing, True, None, {}, issued, "every unit that can be refunded now is settled"
        )
    due = _calculate(snap, units, snap.prior_all, snap.return_fee_taken)
    return RefundPlan(timing, True, due, units, issued, "" if due else "nothing to refund")


def _kind_of(route: str) -> str:
    if route in LEDGER_METHODS:
        return KIND_GIFT_CARD if route == "gift_card" else KIND_STORE_CREDIT
    if route == MANUAL:
        return KIND_MANUAL
    return KIND_PAYMENT


def refunds_settle(*, ret: Return, actor: Actor, stage: str = "") -> Settlement:
    """Record what is due now for `ret` as a settlement with its refunds, exactly once.

    Store credit and gift cards are credited in the same transaction (internal ledgers); manual
    refunds wait for finance; provider refunds are left `pending` for execution.py, which
    calls the provider after this commits. Raises NotDueYet or NothingDue."""
    with transaction.atomic():
        locked = (
            Return.objects.select_for_update(of=("self",))
            .select_related("order", "policy_version")
            .get(pk=ret.pk)
        )
        plan = refund_plan(locked)
        if not plan.reached:
            raise NotDueYet(f"Return {locked.ran}: {plan.reason}.")
        if plan.due is None:
            raise NothingDue(f"Return {locked.ran}: nothing is due now ({plan.reason}).")
        calc = plan.due
        settlement, _ = settlement_record(
            ret=locked,
            calc=calc,
            stage=stage or plan.timing,
            actor=actor,
            event_type="return.settled",
        )
    return settlement


def settlement_record(
    *,
    ret: Return,
    calc: RefundCalculation,
    stage: str,
    actor: Actor,
    event_type: str,
    resolution: str = "",
    extra: dict[str, Any] | None = None,
    event_payload: dict[str, Any] | None = None,
) -> tuple[Settlement, list[Refund]]:
    """Write a settlement for `calc` with one refund row per tender part, its timeline event,
    and the ledger credits (store credit, gift cards) that are paid at once. Call inside the
    transaction holding the return's lock. `extra` is added to the recorded calculation."""
    settlement = Settlement.objects.create(
        merchant_id=ret.merchant_id,
        public_id=new_public_id("stl"),
        return_request=ret,
        order_id=ret.order_id,
        number=Settlement.objects.filter(return_request=ret).count() + 1,
        stage=stage,
        resolution=resolution or calc.resolution,
        currency=calc.currency,
        total_amount=calc.total.amount,
        bonus_amount=calc.store_credit_bonus.amount,
        shipping_amount=calc.shipping.amount.amount,
        return_fee_amount=sum(d.amount.amount for d in calc.return_deductions),
        units={line.line_id: line.quantity for line in calc.lines},
        line_amounts={line.line_id: line.refund.amount for line in calc.lines},
        calculation={**calc.as_dict(), **(extra or {})},
        created_by_label=actor.label,
    )
    refunds = _refund_rows(ret, settlement, calc)
    return_event_record(
        ret=ret,
        type=event_type,
        actor=actor,
        payload={
            **(event_payload or {}),
            "settlement": settlement.public_id,
            "total": calc.total.as_dict(),
            "refunds": [r.public_id for r in refunds],
        },
        notify=False,
    )
    for refund in refunds:
        if refund.kind in (KIND_STORE_CREDIT, KIND_GIFT_CARD):
            _credit_ledger(ret, refund, actor)
    return settlement, refunds


def _refund_rows(ret: Return, settlement: Settlement, calc: RefundCalculation) -> list[Refund]:
    from returndesk.catalog.models import Tender as TenderRow

    tenders = (
        {str(t.position): t for t in TenderRow.objects.filter(order_id=ret.order_id)}
        if ret.order_id
        else {}
    )
    rows: list[Refund] = []
    bonus_left = calc.store_credit_bonus.amount
    now = timezone.now()
    for part in calc.allocations:
        if part.amount.amount <= 0:
            continue
        public_id = new_public_id("rfd")
        kind = _kind_of(part.provider)
        bonus = bonus_left if kind == KIND_STORE_CREDIT else 0
        bonus_left -= bonus
        rows.append(
            Refund.objects.create(
                merchant_id=ret.merchant_id,
                public_id=public_id,
                settlement=settlement,
                return_request=ret,
                tender=tenders.get(part.tender_id or ""),
                kind=kind,
                method=part.method,
                provider=part.provider,
                currency=part.amount.currency,
                amount=part.amount.amount,
                bonus_amount=bonus,
                payment_reference=part.external_reference,
                status=PENDING,
                idempotency_key=f"returndesk-{public_id}",
                next_attempt_at=now if kind == KIND_PAYMENT else None,
            )
        )
    return rows


def _credit_ledger(ret: Return, refund: Refund, actor: Actor) -> None:
    """Store credit and gift cards are ours: credited at once, in the settlement's transaction."""
    source = {"ran": ret.ran, "refund": refund.public_id, "settlement": refund.settlement.public_id}
    if refund.kind == KIND_STORE_CREDIT:
        email = ret.gift_recipient_email if ret.gift and ret.gift_recipient_email else ret.email
        store_credit_issue(
            merchant=ret.merchant,
            email=email,
            currency=refund.currency,
            amount=refund.amount,
            bonus=refund.bonus_amount,
            reference=refund.public_id,
            source=source,
            actor=actor,
        )
    else:
        gift_card_credit(
            merchant=ret.merchant,
            code=refund.payment_reference or f"order:{snap_order_number(ret)}",
            currency=refund.currency,
            amount=refund.amount,
            reference=refund.public_id,
            source=source,
            actor=actor,
        )
    refund_succeed(refund=refund, reference=refund.public_id, actor=actor)


def snap_order_number(ret: Return) -> str:
    return ret.order.order_number if ret.order is not None else ret.claimed_order_number


def refund_succeed(*, refund: Refund, reference: str, actor: Actor, note: str = "") -> Refund:
    """Mark a refund paid (call with the row locked or freshly created, inside a transaction)."""
    refund.status = SUCCEEDED
    refund.provider_reference = refund.provider_reference or reference
    refund.succeeded_at = timezone.now()
    refund.failure_message = ""
    refund.next_attempt_at = None
    refund.claimed_until = None
    refund.save()
    ret = refund.return_request
    data = refund_event_data(refund)
    return_event_record(
        ret=ret, type="refund.succeeded", actor=actor, reason=note, payload=data, notify=False
    )
    outbox_enqueue(merchant_id=refund.merchant_id, type="refund.succeeded", data=data)
    return refund


def refund_fail(*, refund: Refund, message: str, actor: Actor) -> Refund:
    refund.status = FAILED
    refund.failure_message = message
    refund.failed_at = timezone.now()
    refund.next_attempt_at = None
    refund.claimed_until = None
    refund.save()
    data = refund_event_data(refund)
    return_event_record(
        ret=refund.return_request,
        type="refund.failed",
        actor=actor,
        reason=message,
        payload=data,
        notify=False,
    )
    outbox_enqueue(merchant_id=refund.merchant_id, type="refund.failed", data=data)
    return refund


def refund_event_data(refund: Refund) -> dict[str, Any]:
    settlement = refund.settlement
    return {
        "refund": refund.public_id,
        "ran": refund.return_request.ran,
        "order_number": snap_order_number(refund.return_request),
        "status": refund.status,
        "kind": refund.kind,  # store_credit refunds also announce store_credit.issued
        "email": refund.return_request.email,
        "method": refund.method,
        "provider": refund.provider,
        "amount": Money(refund.amount, refund.currency).as_dict(),
        "bonus": Money(refund.bonus_amount, refund.currency).as_dict(),
        "provider_reference": refund.provider_reference or None,
        "failure_message": refund.failure_message or None,
        "settlement": settlement.public_id,
        "lines": settlement.calculation.get("lines", []),
        "return_deductions": settlement.calculation.get("return_deductions", []),
        "shipping": settlement.calculation.get("shipping"),
    }


def _locked_refund(refund_id: str) -> Refund:
    found = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("return_request", "settlement")
        .filter(public_id=refund_id)
        .first()
    )
    if found is None:
        raise NotFound(f"No refund {refund_id}.", code="refund_not_found")
    return found


def refund_mark_paid(*, refund_id: str, reference: str, actor: Actor, note: str = "") -> Refund:
    """Finance paid a manual refund outside the system: record its reference."""
    reference = reference.strip()
    if not reference:
        raise ValidationFailed.on("reference", "say how it was paid: the payment's reference")
    if len(reference) > 200:
        raise ValidationFailed.on("reference", "at most 200 characters")
    with transaction.atomic():
        refund = _locked_refund(refund_id)
        if refund.status == SUCCEEDED and refund.provider_reference == reference:
            return refund  # the same call again
        if refund.kind != KIND_MANUAL and refund.status != FAILED:
            raise RefundStateConflict(
                f"Refund {refund.public_id} is paid through {refund.provider}; only manual "
                "refunds, and failed ones finance has found paid at the provider, are marked "
                "paid by hand."
            )
        if refund.status not in (PENDING, FAILED):
            raise RefundStateConflict(f"Refund {refund.public_id} is {refund.status}.")
        refund.marked_paid_by_label = actor.label
        refund_succeed(refund=refund, reference=reference, actor=actor, note=note)
        audit_record(
            actor=actor,
            action="refund.mark_paid",
            object_type="refund",
            object_ref=refund.public_id,
            merchant_id=refund.merchant_id,
            changes={"reference": reference},
        )
    return refund


def refund_retry(*, refund_id: str, actor: Actor) -> Refund:
    """Try a failed refund again. After a definite refusal by the provider the refund gets a new
    idempotency key (the provider holds no refund under the old one); after errors without an
    answer it keeps its key, so the provider can still recognise a refund it did make."""
    with transaction.atomic():
        refund = _locked_refund(refund_id)
        if refund.status != FAILED:
            raise RefundStateConflict(
                f"Refund {refund.public_id} is {refund.status}; only a failed refund is retried."
            )
        if refund.return_request.status in RELEASED:
            raise RefundStateConflict(
                f"Return {refund.return_request.ran} is {refund.return_request.status}; its "
                "refunds are not paid."
            )
        last = refund.attempt_rows.order_by("-number").first()
        first = refund.attempt_rows.order_by("number").first()
        if (
            last is not None
            and first is not None
            and last.outcome in ("error", "in_flight")
            and first.started_at < timezone.now() - KEY_LIFETIME
        ):
            raise RefundStateConflict(
                f"Refund {refund.public_id} ended without a clear answer from {refund.provider} "
                "more than a day ago, so its idempotency key may have lapsed and a retry could "
                "pay twice. Look it up at the provider: mark it paid with the provider's "
                "reference if it was made.",
                code="refund_uncertain",
            )
        if last is not None and last.outcome == "failed":
            refund.idempotency_key = f"returndesk-{refund.public_id}-{refund.attempts + 1}"
        refund.status = PENDING
        refund.retry_from = refund.attempts
        refund.next_attempt_at = timezone.now() if refund.kind == KIND_PAYMENT else None
        refund.claimed_until = None
        refund.save()
        audit_record(
            actor=actor,
            action="refund.retry",
            object_type="refund",
            object_ref=refund.public_id,
            merchant_id=refund.merchant_id,
        )
    return refund


def adjustment_open(
    *, ret: Return, cause: str, amount: int, findings: list[str], actor: Actor
) -> Adjustment | None:
    """Open an adjustment for money paid beyond what the facts now make due, once per cause."""
    if amount <= 0:
        return None
    existing = Adjustment.objects.filter(return_request=ret, cause=cause).first()
    if existing is not None:
        return existing
    adjustment = Adjustment.objects.create(
        merchant_id=ret.merchant_id,
        public_id=new_public_id("adj"),
        return_request=ret,
        cause=cause,
        findings=findings,
        currency=ret.currency,
        amount=amount,
    )
    data = {
        "adjustment": adjustment.public_id,
        "ran": ret.ran,
        "cause": cause,
        "amount": Money(amount, ret.currency).as_dict(),
        "findings": findings,
    }
    return_event_record(
        ret=ret, type="adjustment.opened", actor=actor, payload=data, reason=cause, notify=False
    )
    outbox_enqueue(merchant_id=ret.merchant_id, type="adjustment.opened", data=data)
    return adjustment


def adjustment_resolve(*, adjustment_id: str, action: str, note: str, actor: Actor) -> Adjustment:
    errors = []
    if action not in ADJUSTMENT_ACTIONS:
        errors.append(("action", f"must be one of {', '.join(ADJUSTMENT_ACTIONS)}"))
    if not note.strip():
        errors.append(("note", "say what was done"))
    if errors:
        field, message = errors[0]
        raise ValidationFailed.on(field, message)
    with transaction.atomic():
        adjustment = (
            Adjustment.objects.select_for_update(of=("self",))
            .select_related("return_request")
            .filter(public_id=adjustment_id)
            .first()
        )
        if adjustment is None:
            raise NotFound(f"No adjustment {adjustment_id}.", code="adjustment_not_found")
        if adjustment.status == RESOLVED:
            if adjustment.action == action:
                return adjustment
            raise RefundStateConflict(
                f"Adjustment {adjustment.public_id} was resolved by {adjustment.action}."
            )
        adjustment.status = RESOLVED
        adjustment.action = action
        adjustment.note = note.strip()
        adjustment.resolved_at = timezone.now()
        adjustment.resolved_by_label = actor.label
        adjustment.save()
        return_event_record(
            ret=adjustment.return_request,
            type="adjustment.resolved",
            actor=actor,
            reason=note.strip(),
            payload={"adjustment": adjustment.public_id, "action": action},
            notify=False,
        )
        audit_record(
            actor=actor,
            action="adjustment.resolve",
            object_type="adjustment",
            object_ref=adjustment.public_id,
            merchant_id=adjustment.merchant_id,
            changes={"action": action, "note": note.strip()},
        )
    return adjustment


def refunds_reconcile(*, ret: Return, actor: Actor) -> Adjustment | None:
    """Compare what this return was paid with what the facts now make due, and open an
    adjustment for the excess: a released or lost return (everything paid), or an inspected one
    (empty box, wrong item, units that never came, a grade)."""
    with transaction.atomic():
        locked = (
            Return.objects.select_for_update(of=("self",))
            .select_related("order", "policy_version")
            .get(pk=ret.pk)
        )
        paid = sum(
            r.amount
            for r in Refund.objects.filter(
                return_request=locked, status__in=(SUCCEEDED, PROCESSING)
            )
        )
        if locked.status in RELEASED:
            unpaid = Refund.objects.filter(
                return_request=locked, status=PENDING, attempts=0
            ).select_related("return_request", "settlement")
            for refund in unpaid:
                refund_fail(
                    refund=refund,
                    message=f"not paid: the return is {locked.status}",
                    actor=actor,
                )
            return adjustment_open(
                ret=locked,
                cause=locked.status,
                amount=paid,
                findings=[f"the return is {locked.status} after {paid} was refunded"],
                actor=actor,
            )
        if locked.status not in (INSPECTED, COMPLETED):
            return None
        snap = return_snapshot(locked)
        skip = _exchange_line_ids(locked)
        units = {
            line.pk: (0, snap.eligible.get(line.pk, 0))
            for line in snap.lines()
            if line.pk not in skip
        }
        full = _calculate(snap, units, snap.prior_other, 0)
        due = full.total.amount if full else 0
        if snap.issued <= due:
            return None
        findings = list(snap.contradictions)
        short = [
            f"{line.sku}: {snap.settled_units.get(line.pk, 0) - snap.eligible.get(line.pk, 0)} "
            "unit(s) refunded before inspection were not inspected"
            for line in snap.lines()
            if snap.settled_units.get(line.pk, 0) > snap.eligible.get(line.pk, 0)
        ]
        findings.extend(short)
        if full is not None:
            findings.extend(
                f"{d.code}: {d.reason}"
                for line in full.lines
                for d in line.deductions
                if d.source == "inspection"
            )
        return adjustment_open(
            ret=locked,
            cause="inspection",
            amount=snap.issued - due,
            findings=findings or ["inspection made less due than was paid"],
            actor=actor,
        )


def refund_trigger_record(*, ret: Return, status: str) -> None:
    """Ask the worker to look at a return's money (called inside a transition's transaction)."""
    # One statement (INSERT ... ON CONFLICT DO UPDATE): this runs inside every transition,
    # including the receiving scan, a hot path (benchmark B3).
    now = timezone.now()
    RefundTrigger.objects.bulk_create(
        [
            RefundTrigger(
                merchant_id=ret.merchant_id,
                return_request=ret,
                status=status,
                next_attempt_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["return_request", "status"],
        update_fields=["done_at", "next_attempt_at", "claimed_until", "updated_at"],
    )


def return_settled(ret: Return) -> bool:
    """Is all of this return's money settled: nothing more due, every refund paid, no open
    adjustment, every exchange released to its end?"""
    from returndesk.refunds.models import Exchange

    plan = refund_plan(ret)
    if plan.due is not None:
        return False
    if Refund.objects.filter(return_request=ret).exclude(status=SUCCEEDED).exists():
        return False
    if Adjustment.objects.filter(return_request=ret, status=OPEN).exists():
        return False
    return not Exchange.objects.filter(
        return_request=ret, status__in=("requested", "awaiting_payment")
    ).exists()


@sensitive_variables()  # the changes and the row hold the merchant's secrets
def payment_settings_update(
    *, merchant_id: int, changes: dict[str, Any], actor: Actor
) -> PaymentSettings:
    """Change how refunds are paid. Secrets are write-only: an empty value leaves one as it is,
    `None` clears it."""
    allowed = {
        "allocation_rule",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "paypal_client_id",
        "paypal_client_secret",
        "paypal_environment",
        "max_attempts",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "not a payment setting")
    rule = changes.get("allocation_rule")
    if rule is not None and rule not in ALLOCATION_RULES:
        raise ValidationFailed.on("allocation_rule", f"one of {', '.join(ALLOCATION_RULES)}")
    env = changes.get("paypal_environment")
    if env is not None and env not in ("sandbox", "live"):
        raise ValidationFailed.on("paypal_environment", "sandbox or live")
    attempts = changes.get("max_attempts")
    if attempts is not None and not (isinstance(attempts, int) and 1 <= attempts <= MAX_ATTEMPTS):
        raise ValidationFailed.on(
            "max_attempts",
            f"a whole number from 1 to {MAX_ATTEMPTS} (retries stay within the 24 hours a "
            "provider keeps an idempotency key)",
        )
    secrets = {"stripe_secret_key", "stripe_webhook_secret", "paypal_client_secret"}
    with transaction.atomic():
        settings, _ = PaymentSettings.objects.select_for_update().get_or_create(
            merchant_id=merchant_id
        )
        changed: dict[str, Any] = {}
        for name, value in changes.items():
            if name in secrets:
                if value == "":
                    continue
                value = value or ""
                changed[name] = "set" if value else "cleared"
            elif value is None:
                # null clears the PayPal client id; the other settings always have a value
                if name != "paypal_client_id":
                    continue
                value = changed[name] = ""
            else:
                changed[name] = value
            setattr(settings, name, value)
        settings.save()
        audit_record(
            actor=actor,
            action="payment_settings.update",
            object_type="payment_settings",
            object_ref=str(merchant_id),
            merchant_id=merchant_id,
            changes=changed,
        )
    return settings
