"""Exchanges (issue 7; API.md `exchange_for`): a replacement for a returned line, with its own
status, paid for by what the returned units are worth. docs/refunds.md, "Exchanges".

- **Opened** with the return's authorization (`exchanges_open`, from the refunds app's transition
  hook): one `requested` exchange per line with `exchange_for`, priced at the replacement's
  catalogue price times its quantity, against the credit the refund calculator gives the returned
  units (an estimate until the exchange is decided). `exchange.requested` goes out.
- **Decided** when the return reaches the exchange's release stage (`exchanges_advance`, from the
  worker's money check): authorization for an instant exchange, otherwise receipt, or inspection
  when the return's money waits for inspection. The credit is worked out again from the facts of
  that moment (the units that came, their findings) and fixed. A shopper who owes a difference:
  `awaiting_payment`, collected through the merchant's Stripe (a Checkout link) or recorded by
  staff; anything else: `released` (`exchange.released` asks the merchant to ship the replacement),
  and a difference owed to the shopper is refunded through a settlement of its own.
- **Fulfilled** when the merchant reports its order, or **cancelled** with a reason. A cancelled
  exchange's line is refunded like any refund when the return's money is due, and a payment the
  shopper made for it goes back by hand.
- **Reconciled**: a return that never arrives after an instant exchange (expired, lost, cancelled)
  opens an adjustment for the credit given; an inspection that finds less than an early release
  credited opens one for the excess (cause `exchange`).

Money moves through the lead's rows: a `Settlement` (resolution `exchange`, its calculation naming
the exchange and the purpose) with one `Refund` per tender, executed once like every refund.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from returndesk.catalog.models import Product
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from returndesk.core.ids import new_public_id
from returndesk.core.money import Money
from returndesk.notifications.services import outbox_enqueue
from returndesk.refunds.calculator import (
    CurrencyMismatch,
    RefundCalculation,
    RefundInvalid,
    RefundRequest,
    ShippingRefund,
    calculate,
)
from returndesk.refunds.execution import _api_base, credentials
from returndesk.refunds.models import (
    AWAITING_PAYMENT,
    CANCELLED,
    EXCHANGE_TRANSITIONS,
    FULFILLED,
    PROCESSING,
    RELEASED,
    REQUESTED,
    SUCCEEDED,
    Adjustment,
    Exchange,
    Refund,
    Settlement,
)
from returndesk.refunds.providers import CollectionUnsupported, ProviderError, provider_for
from returndesk.refunds.services import (
    adjustment_open,
    configured_providers,
    payment_settings_for,
    refund_timing,
    return_policy,
    settlement_record,
)
from returndesk.refunds.snapshot import REACHED, return_snapshot, returned_lines
from returndesk.refunds.tenders import MANUAL, Allocation, TendersShort, allocate_to_tenders
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import CANCELLED as RETURN_CANCELLED
from returndesk.returns.models import COMPLETED, EXPIRED, INSPECTED, LOST, REJECTED, Return

logger = logging.getLogger(__name__)

# The return will not bring the units (for now): nothing is released to it, and what an instant
# exchange gave opens an adjustment. Cancelled and rejected are for good: open exchanges end.
STOPPED = frozenset({RETURN_CANCELLED, EXPIRED, LOST, REJECTED})
ENDED = frozenset({RETURN_CANCELLED, REJECTED})
# The statuses merchants hear about (API.md, webhook events); the others are on the timeline.
NOTIFIED = frozenset({REQUESTED, RELEASED, FULFILLED})
# What an exchange settlement pays: a difference owed to the shopper, a cancelled exchange's
# line, or a payment the shopper made that goes back (by hand).
DIFFERENCE, CANCELLATION, PAYMENT_BACK = "difference", "cancellation", "payment_back"


# ----------------------------------------------------------------------------------------------
# Reads


def exchange_get(exchange_id: str) -> Exchange:
    """One exchange of the merchant in scope; another merchant's answers as an unknown one."""
    found = (
        Exchange.objects.select_related(
            "return_request", "return_request__order", "return_line__order_line"
        )
        .filter(public_id=exchange_id)
        .first()
    )
    if found is None:
        raise NotFound(f"No exchange {exchange_id}.", code="exchange_not_found")
    return found


def exchange_is_instant(ret: Return) -> bool:
    """The policy allows instant exchanges and the return is not high risk."""
    policy = return_policy(ret)
    return policy.resolutions.instant_exchange and ret.risk_score <= policy.high_risk_threshold


def release_stage(ret: Return, exchange: Exchange) -> str:
    """When the exchange is decided: authorization when instant; otherwise when the units are
    received, or inspected when the return's money waits for inspection."""
    if exchange.instant:
        return "authorization"
    return "inspection" if refund_timing(ret) == "inspection" else "receipt"


@dataclass(frozen=True)
class Credit:
    amount: int  # what the returned units are worth now, minor units
    units: int  # how many returned units count now
    line: dict[str, Any]  # the calculator's line: paid, deductions with their reasons, refund


def exchange_credits(ret: Return) -> dict[int, Credit]:
    """What the returned units of each exchanged line are worth now (ReturnLine pk -> Credit).

    The refund calculator on the units the return's status lets count (all before receipt; those
    received; then those inspected, with their findings), as a `refund`, after the order's
    earlier refunds. No order shipping is part of a credit. The return shipping fee is taken
    here only when every line of the return is exchanged; otherwise its refunded lines pay it."""
    snap = return_snapshot(ret)
    lines = [line for line in snap.lines() if line.exchange_sku]
    credits = {line.pk: Credit(0, 0, {}) for line in lines}
    returned = returned_lines(snap, {line.pk: (0, snap.eligible.get(line.pk, 0)) for line in lines})
    if not returned:
        return credits
    policy = return_policy(ret)
    exchanged_only = len(lines) == len(snap.lines())
    try:
        calc = calculate(
            policy,
            replace(snap.order, tenders=()),  # a credit goes to no tender
            RefundRequest(
                lines=returned,
                resolution="refund",
                currency=ret.currency,
                return_fee_taken=(
                    snap.return_fee_taken if exchanged_only else policy.fees.return_shipping_fee
                ),
            ),
            snap.prior_all,
        )
    except CurrencyMismatch as exc:
        raise ValidationFailed(str(exc), code="currency_mismatch") from None
    except RefundInvalid as exc:
        raise Conflict(
            f"The exchange credit cannot be worked out: {exc}", code="refund_invalid"
        ) from None
    by_line_id = {line.line_id: line for line in calc.lines}
    for line in lines:
        found = by_line_id.get(snap.line_ids.get(line.pk, ""))
        if found is not None:
            credits[line.pk] = Credit(found.refund.amount, found.quantity, found.as_dict())
    return credits


def exchange_event_data(e: Exchange) -> dict[str, Any]:
    line = e.return_line.order_line if e.return_line.order_line_id else None
    return {
        "exchange": e.public_id,
        "status": e.status,
        "line_id": line.line_id if line else None,
        "returned_sku": e.return_line.sku,
        "sku": e.sku,
        "name": e.name,
        "quantity": e.quantity,
        "price": Money(e.price_amount, e.currency).as_dict(),
        "credit": Money(e.credit_amount, e.currency).as_dict(),
        "difference": Money(e.difference_amount, e.currency).as_dict(),
        "instant": e.instant,
        "collection_url": e.collection_url or None,
        "paid_reference": e.paid_reference or None,
        "merchant_order_reference": e.merchant_order_reference or None,
        "cancelled_reason": e.cancelled_reason or None,
    }


def _shipping_address(ret: Return) -> dict[str, str] | None:
    order = ret.order if ret.order_id else None
    if order is None:
        return None
    return {
        "name": order.ship_name,
        "line1": order.ship_line1,
        "line2": order.ship_line2,
        "city": order.ship_city,
        "region": order.ship_region,
        "postal_code": order.ship_postal_code,
        "country": order.ship_country,
    }


# ----------------------------------------------------------------------------------------------
# Status


def _announce(e: Exchange, *, type: str, actor: Actor, note: str = "") -> None:
    """The timeline event, and for the statuses merchants hear about the outbox event under the
    same id (the shipping address goes to the merchant only, not on the timeline)."""
    ret = e.return_request
    data = exchange_event_data(e)
    event = return_event_record(
        ret=ret, type=type, actor=actor, reason=note, payload={"exchange": data}, notify=False
    )
    if e.status in NOTIFIED and type == f"exchange.{e.status}":
        body: dict[str, Any] = {
            "ran": ret.ran,
            "order_number": ret.order.order_number if ret.order_id and ret.order else None,
            "email": ret.email,
            "exchange": data,
        }
        if e.status == RELEASED:
            body["shipping_address"] = _shipping_address(ret)
        outbox_enqueue(
            merchant_id=e.merchant_id,
            type=type,
            data=body,
            event_id=event.public_id,
            at=event.created_at,
        )


def _entry(status: str, actor: Actor, note: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "at": timezone.now().isoformat(),
        "actor": actor.label,
        "note": note,
        **extra,
    }


def _lock(exchange_pk: int) -> Exchange:
    return (
        Exchange.objects.select_for_update(of=("self",))
        .select_related("return_request", "return_request__order", "return_line__order_line")
        .get(pk=exchange_pk)
    )


def exchange_transition(
    *,
    exchange: Exchange,
    to_status: str,
    actor: Actor,
    note: str = "",
    changes: Mapping[str, Any] | None = None,
) -> Exchange:
    """Move an exchange along `EXCHANGE_TRANSITIONS`: lock the row, check the move (409
    `invalid_transition` otherwise, never a no-op), save it with `changes`, append to its
    `events`, and write the timeline event and (requested, released, fulfilled) the outbox
    event, all in one transaction. Answers the row as saved."""
    with transaction.atomic():
        locked = _lock(exchange.pk)
        from_status = locked.status
        if to_status not in EXCHANGE_TRANSITIONS.get(from_status, frozenset()):
            raise InvalidTransition(
                f"Exchange {locked.public_id} is {from_status}; it cannot become {to_status}."
            )
        for name, value in (changes or {}).items():
            setattr(locked, name, value)
        locked.status = to_status
        if to_status == RELEASED:
            locked.released_at = timezone.now()
        elif to_status == FULFILLED:
            locked.fulfilled_at = timezone.now()
        locked.events = [*locked.events, _entry(to_status, actor, note, from_status=from_status)]
        locked.save()
        _announce(locked, type=f"exchange.{to_status}", actor=actor, note=note)
    return locked


def _note(exchange: Exchange, *, type: str, actor: Actor, note: str, **extra: Any) -> None:
    """Something happened to a locked exchange that is not a move: its events and the timeline."""
    exchange.events = [*exchange.events, _entry(exchange.status, actor, note, event=type, **extra)]
    exchange.save()
    _announce(exchange, type=type, actor=actor, note=note)


# ----------------------------------------------------------------------------------------------
# Opening


def exchanges_open(*, ret: Return, actor: Actor) -> list[Exchange]:
    """One `requested` exchange for each line of `ret` with `exchange_for` that has none yet (a
    reopened return keeps its own). Runs in the transition that authorized the return. A
    replacement no longer sold in the return's currency is opened and cancelled at once, so its
    line is refunded instead."""
    # The lines return_create has just written are kept on `ret` (with their order lines):
    # reading them back would cost every new return a statement.
    held = getattr(ret, "_prefetched_objects_cache", {}).get("lines")
    every = held if held is not None else ret.lines.select_related("order_line")
    lines = [line for line in every if line.exchange_sku]
    if not lines:
        return []
    have = set(Exchange.objects.filter(return_request=ret).values_list("return_line_id", flat=True))
    lines = [line for line in lines if line.pk not in have]
    if not lines:
        return []
    products = {
        p.sku: p
        for p in Product.objects.filter(
            merchant_id=ret.merchant_id, sku__in={line.exchange_sku for line in lines}
        )
    }
    try:
        credits = exchange_credits(ret)
    except ApplicationError as exc:  # worked out again when the exchange is decided
        logger.warning("return %s: exchange credit not worked out yet: %s", ret.ran, exc)
        credits = {}
    instant = exchange_is_instant(ret)
    opened = []
    for line in lines:
        product = products.get(line.exchange_sku)
        sold = product is not None and product.currency == ret.currency
        quantity = line.exchange_quantity or line.quantity
        price = product.price_amount * quantity if product is not None and sold else 0
        credit = credits.get(line.pk, Credit(0, 0, {}))
        exchange = Exchange.objects.create(
            merchant_id=ret.merchant_id,
            public_id=new_public_id("exc"),
            return_request=ret,
            return_line=line,
            sku=line.exchange_sku,
            name=product.name if product is not None else "",
            quantity=quantity,
            currency=ret.currency,
            price_amount=price,
            credit_amount=credit.amount,
            difference_amount=price - credit.amount,
            status=REQUESTED,
            instant=instant,
            calculation={"stage": "", "estimate": True, "line": credit.line},
            events=[_entry(REQUESTED, actor, "requested with the return")],
        )
        exchange.return_request = ret
        _announce(exchange, type="exchange.requested", actor=actor)
        if not sold:
            exchange = exchange_transition(
                exchange=exchange,
                to_status=CANCELLED,
                actor=actor,
                note=f"{line.exchange_sku} is not sold in {ret.currency}",
                changes={"cancelled_reason": f"{line.exchange_sku} is no longer sold"},
            )
        opened.append(exchange)
    return opened


# ----------------------------------------------------------------------------------------------
# Deciding, releasing, settling


def _locked_pair(exchange_pk: int, return_pk: int) -> tuple[Return, Exchange]:
    """The return, then its exchange, locked in that order (settlements number per return)."""
    ret = (
        Return.objects.select_for_update(of=("self",))
        .select_related("order", "policy_version")
        .get(pk=return_pk)
    )
    exchange = _lock(exchange_pk)
    exchange.return_request = ret
    return ret, exchange


def exchanges_advance(*, ret: Return, actor: Actor) -> list[str]:
    """Move the return's exchanges on as its facts allow: end open ones of a cancelled or
    rejected return, decide those whose release stage is reached, release paid ones, refund a
    cancelled one's line once the return's money is due. Answers the ids of the refunds it wrote,
    for execution after this commits."""
    written: list[str] = []
    pks = Exchange.objects.filter(return_request_id=ret.pk).exclude(status=FULFILLED)
    for pk in pks.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            locked_ret, exchange = _locked_pair(pk, ret.pk)
            written += _advance(locked_ret, exchange, actor)
    return written


def _advance(ret: Return, exchange: Exchange, actor: Actor) -> list[str]:
    written: list[str] = []
    if exchange.status in (REQUESTED, AWAITING_PAYMENT) and ret.status in ENDED:
        exchange = exchange_transition(
            exchange=exchange,
            to_status=CANCELLED,
            actor=actor,
            note=f"the return was {ret.status}",
            changes={"cancelled_reason": f"the return was {ret.status}"},
        )
    if exchange.status == REQUESTED and ret.status in REACHED[release_stage(ret, exchange)]:
        exchange, written = _decide(ret, exchange, actor)
    elif exchange.status == AWAITING_PAYMENT and exchange.paid_at and ret.status not in STOPPED:
        exchange = _release(exchange, actor, "paid")
    if exchange.status == CANCELLED:
        written += _settle_cancelled(ret, exchange, actor)
    return written


def _decide(ret: Return, exchange: Exchange, actor: Actor) -> tuple[Exchange, list[str]]:
    """Fix the credit from the facts of the release stage, then ask for the difference or
    release (refunding a difference owed to the shopper)."""
    stage = release_stage(ret, exchange)
    credit = exchange_credits(ret).get(exchange.return_line_id, Credit(0, 0, {}))
    if credit.units == 0:
        reason = {
            "receipt": "none of the returned units was received",
            "inspection": "none of the returned units was inspected",
        }.get(stage, "the returned units cannot be valued")
        return (
            exchange_transition(
                exchange=exchange,
                to_status=CANCELLED,
                actor=actor,
                note=reason,
                changes={"cancelled_reason": reason},
            ),
            [],
        )
    difference = exchange.price_amount - credit.amount
    changes = {
        "credit_amount": credit.amount,
        "difference_amount": difference,
        "calculation": {"stage": stage, "estimate": False, "line": credit.line},
    }
    currency = exchange.currency
    if difference > 0:
        owed = Money(difference, currency)
        return (
            exchange_transition(
                exchange=exchange,
                to_status=AWAITING_PAYMENT,
                actor=actor,
                note=f"the shopper owes {owed}: the replacement costs more than the return",
                changes=changes,
            ),
            [],
        )
    released = exchange_transition(
        exchange=exchange,
        to_status=RELEASED,
        actor=actor,
        note=f"the returned units are worth {Money(credit.amount, currency)} ({stage})",
        changes=changes,
    )
    refunds = _settle(ret, released, purpose=DIFFERENCE, amount=-difference, actor=actor)
    return released, refunds


def _release(exchange: Exchange, actor: Actor, why: str) -> Exchange:
    return exchange_transition(exchange=exchange, to_status=RELEASED, actor=actor, note=why)


def _settle(
    ret: Return,
    exchange: Exchange,
    *,
    purpose: str,
    amount: int,
    actor: Actor,
    reference: str = "",
) -> list[str]:
    """Refund `amount` for `exchange` through a settlement of its own (resolution `exchange`),
    once per exchange, purpose and reference: to the order's tenders by the merchant's rule, or
    (a payment back) by hand. Call with the return locked. Answers the refund ids."""
    if amount <= 0:
        return []
    mine = Settlement.objects.filter(
        return_request=ret,
        resolution="exchange",
        calculation__exchange=exchange.public_id,
        calculation__purpose=purpose,
        calculation__reference=reference,
    )
    if mine.exists():
        return []
    currency = ret.currency
    settings = payment_settings_for(ret.merchant_id)
    resolution = "store_credit" if ret.resolution == "store_credit" else "refund"
    snap = return_snapshot(ret)
    if purpose == PAYMENT_BACK:
        allocations: tuple[Allocation, ...] = (
            Allocation(
                tender_id=None,
                method="other",
                provider=MANUAL,
                amount=Money(amount, currency),
                available=Money(amount, currency),
                external_reference=reference,
                reason="the shopper paid this for the exchange: finance pays it back by hand",
            ),
        )
    else:
        try:
            allocations = allocate_to_tenders(
                amount,
                snap.order.tenders,
                snap.prior_all.tenders,
                currency=currency,
                rule=settings.allocation_rule,
                resolution=resolution,
                providers=configured_providers(settings),
            )
        except TendersShort as exc:
            raise Conflict(
                f"The exchange refund cannot be paid: {exc}", code="refund_invalid"
            ) from None
    zero = Money.zero(currency)
    calc = RefundCalculation(
        order_number=snap.order.order_number,
        currency=currency,
        resolution=resolution,
        allocation_rule=settings.allocation_rule,
        lines=(),
        return_deductions=(),
        shipping=ShippingRefund(zero, zero, zero, "not part of an exchange"),
        paid=zero,
        deductions=zero,
        total=Money(amount, currency),
        store_credit_bonus=zero,
        allocations=allocations,
        checks=(f"exchange {exchange.public_id}: {purpose.replace('_', ' ')}",),
    )
    _, refunds = settlement_record(
        ret=ret,
        calc=calc,
        stage=refund_timing(ret) if purpose == CANCELLATION else release_stage(ret, exchange),
        actor=actor,
        event_type="exchange.settled",
        resolution="exchange",
        extra={
            "exchange": exchange.public_id,
            "purpose": purpose,
            "reference": reference,
            "price": Money(exchange.price_amount, currency).as_dict(),
            "credit": Money(exchange.credit_amount, currency).as_dict(),
            "credit_line": exchange.calculation.get("line", {}),
        },
        event_payload={"exchange": exchange.public_id, "purpose": purpose},
    )
    return [r.public_id for r in refunds]


def _settled(ret: Return, exchange: Exchange, purpose: str) -> list[int]:
    """The totals of the exchange's settlements for `purpose`."""
    return list(
        Settlement.objects.filter(
            return_request=ret,
            resolution="exchange",
            calculation__exchange=exchange.public_id,
            calculation__purpose=purpose,
        ).values_list("total_amount", flat=True)
    )


def _settle_cancelled(ret: Return, exchange: Exchange, actor: Actor) -> list[str]:
    """A cancelled exchange: a payment the shopper made goes back at once; the line's units are
    refunded (less a difference already refunded) once the return's money is due."""
    written = []
    if exchange.paid_at is not None and exchange.difference_amount > 0:
        written += _settle(
            ret,
            exchange,
            purpose=PAYMENT_BACK,
            amount=exchange.difference_amount,
            actor=actor,
            reference=exchange.paid_reference,
        )
    if ret.status in REACHED[refund_timing(ret)] and not _settled(ret, exchange, CANCELLATION):
        credit = exchange_credits(ret).get(exchange.return_line_id, Credit(0, 0, {}))
        owed = credit.amount - sum(_settled(ret, exchange, DIFFERENCE))
        written += _settle(ret, exchange, purpose=CANCELLATION, amount=owed, actor=actor)
    return written


# ----------------------------------------------------------------------------------------------
# Collecting a difference the shopper owes


def exchanges_collect(*, ret: Return, actor: Actor) -> None:
    """Ask for the differences the return's exchanges wait for (outside any transaction: it
    calls the provider). A provider error that may pass is raised, so the worker's trigger tries
    again later with the same idempotency key."""
    waiting = Exchange.objects.filter(
        return_request_id=ret.pk,
        status=AWAITING_PAYMENT,
        paid_at__isnull=True,
        collection_provider="",
    )
    for exchange in waiting.select_related("return_request"):
        if exchange.return_request.status not in STOPPED:
            exchange_collect(exchange=exchange, actor=actor)


def exchange_collect(*, exchange: Exchange, actor: Actor) -> Exchange:
    """A Stripe Checkout link for the difference when the merchant has Stripe; otherwise the
    exchange waits for staff to record the payment (`manual`)."""
    settings = payment_settings_for(exchange.merchant_id)
    ran = exchange.return_request.ran
    reference = url = ""
    provider_name = MANUAL
    note = "no payment provider collects it: staff record the payment"
    if settings.stripe_secret_key:
        try:
            provider = provider_for(
                "stripe", credentials(settings, "stripe"), api_base=_api_base("stripe")
            )
            collection = provider.collect(
                amount=exchange.difference_amount,
                currency=exchange.currency,
                description=f"Exchange for return {ran}: {exchange.name or exchange.sku}",
                idempotency_key=f"returndesk-{exchange.public_id}-collection",
                metadata={"returndesk_exchange": exchange.public_id, "ran": ran},
            )
            provider_name, reference, url = "stripe", collection.reference, collection.url
            note = "the shopper pays through Stripe's link"
        except CollectionUnsupported:
            pass
        except ProviderError as exc:
            with transaction.atomic():
                locked = _lock(exchange.pk)
                _note(
                    locked,
                    type="exchange.collection_failed",
                    actor=actor,
                    note=f"Stripe: {exc.message}",
                )
            if exc.retryable:
                raise
            note = f"Stripe refused the payment link ({exc.message}): staff record the payment"
    with transaction.atomic():
        locked = _lock(exchange.pk)
        if locked.status != AWAITING_PAYMENT or locked.collection_provider:
            return locked
        locked.collection_provider = provider_name
        locked.collection_reference = reference
        locked.collection_url = url
        _note(locked, type="exchange.payment_requested", actor=actor, note=note)
    return locked


def _paid(
    ret: Return, exchange: Exchange, *, reference: str, actor: Actor, note: str
) -> tuple[Exchange, list[str]]:
    """Record the payment of a locked exchange's difference, and release it when the return is
    still coming. A payment for an exchange that no longer waits for one (paid twice: staff
    recorded it and the link was paid too; or paid after it was cancelled) goes back by hand."""
    first = exchange.paid_at is None
    if first:
        exchange.paid_at = timezone.now()
        exchange.paid_reference = reference
    _note(exchange, type="exchange.paid", actor=actor, note=note, reference=reference)
    if first and exchange.status == AWAITING_PAYMENT:
        if ret.status in STOPPED:
            return exchange, []  # released when the return comes back (reopened, found)
        return _release(exchange, actor, "paid"), []
    if exchange.status == CANCELLED and first:
        return exchange, _settle_cancelled(ret, exchange, actor)
    refunds = _settle(
        ret,
        exchange,
        purpose=PAYMENT_BACK,
        amount=max(0, exchange.difference_amount),
        actor=actor,
        reference=reference,
    )
    return exchange, refunds


def exchange_collection_paid(*, merchant_id: int, reference: str, actor: Actor) -> Exchange | None:
    """Stripe says the shopper paid the Checkout Session `reference` (checkout.session.completed,
    applied by refunds/webhooks.py): mark the exchange paid and release it. A repeated event
    changes nothing; a reference that is not an exchange's answers None."""
    found = Exchange.objects.filter(
        merchant_id=merchant_id, collection_provider="stripe", collection_reference=reference
    ).first()
    if found is None:
        return None
    with transaction.atomic():
        ret, exchange = _locked_pair(found.pk, found.return_request_id)
        if any(entry.get("reference") == reference for entry in exchange.events):
            return exchange  # the same event again
        exchange, _ = _paid(ret, exchange, reference=reference, actor=actor, note="paid on Stripe")
    return exchange


# ----------------------------------------------------------------------------------------------
# Staff and the merchant


def _audit(exchange: Exchange, action: str, actor: Actor, changes: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=f"exchange.{action}",
        object_type="exchange",
        object_ref=exchange.public_id,
        merchant_id=exchange.merchant_id,
        changes=changes,
    )


def _reference(value: str, field: str, why: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationFailed.on(field, why)
    if len(value) > 200:
        raise ValidationFailed.on(field, "at most 200 characters")
    return value


def exchange_mark_paid(
    *, exchange_id: str, reference: str, actor: Actor, note: str = ""
) -> tuple[Exchange, list[str]]:
    """Staff record that the shopper paid the difference (outside a provider link): the exchange
    is released. The same call again changes nothing. Answers the exchange and any refund
    written (a payment recorded twice goes back by hand)."""
    reference = _reference(reference, "reference", "say how it was paid: the payment's reference")
    found = exchange_get(exchange_id)
    with transaction.atomic():
        ret, exchange = _locked_pair(found.pk, found.return_request_id)
        if exchange.paid_reference == reference:
            return exchange, []
        if exchange.status != AWAITING_PAYMENT or exchange.paid_at is not None:
            raise InvalidTransition(
                f"Exchange {exchange.public_id} is {exchange.status}"
                + (" and paid" if exchange.paid_at else "")
                + "; only an exchange awaiting payment is marked paid."
            )
        exchange, refunds = _paid(
            ret, exchange, reference=reference, actor=actor, note=note or "payment recorded"
        )
        _audit(exchange, "mark_paid", actor, {"reference": reference})
    return exchange, refunds


def exchange_fulfil(*, exchange_id: str, order_reference: str, actor: Actor) -> Exchange:
    """The merchant shipped the replacement: its order reference. The same call again changes
    nothing."""
    order_reference = _reference(
        order_reference, "order_reference", "the merchant's order for the replacement"
    )
    found = exchange_get(exchange_id)
    if found.status == FULFILLED and found.merchant_order_reference == order_reference:
        return found
    with transaction.atomic():
        exchange = exchange_transition(
            exchange=found,
            to_status=FULFILLED,
            actor=actor,
            note=f"the merchant's order {order_reference}",
            changes={"merchant_order_reference": order_reference},
        )
        _audit(exchange, "fulfil", actor, {"order_reference": order_reference})
    return exchange


def exchange_cancel(*, exchange_id: str, reason: str, actor: Actor) -> tuple[Exchange, list[str]]:
    """Cancel an exchange that is not fulfilled, with a reason: its line is refunded like any
    refund (at once when the return's money is already due), and a payment the shopper made for
    it goes back. Answers the exchange and the refunds written."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on("reason", "say why: it goes on the return's timeline")
    found = exchange_get(exchange_id)
    with transaction.atomic():
        ret, exchange = _locked_pair(found.pk, found.return_request_id)
        exchange = exchange_transition(
            exchange=exchange,
            to_status=CANCELLED,
            actor=actor,
            note=reason,
            changes={"cancelled_reason": reason},
        )
        exchange.return_request = ret
        refunds = _settle_cancelled(ret, exchange, actor)
        _audit(exchange, "cancel", actor, {"reason": reason})
    return exchange, refunds


# ----------------------------------------------------------------------------------------------
# Later facts


def exchanges_reconcile(*, ret: Return, actor: Actor) -> Adjustment | None:
    """What exchanges gave that the facts now take back, as an adjustment.

    A return that will not arrive (expired, lost, cancelled) after an exchange was released to
    it: everything paid for it, which with the replacement makes the credit given (cause = the
    return's status; run before `refunds_reconcile`, so one adjustment per cause covers the
    refunds too). An inspection that finds the units worth less than an exchange credited
    before inspection (released early, or cancelled and refunded early): the excess (cause
    `exchange`)."""
    with transaction.atomic():
        locked = (
            Return.objects.select_for_update(of=("self",))
            .select_related("order", "policy_version")
            .get(pk=ret.pk)
        )
        exchanges = list(
            Exchange.objects.filter(return_request=locked)
            .select_related("return_line")
            .order_by("pk")
        )
        given = [e for e in exchanges if e.status in (RELEASED, FULFILLED)]
        currency = locked.currency
        if locked.status in STOPPED and given:
            paid = sum(
                Refund.objects.filter(
                    return_request=locked, status__in=(SUCCEEDED, PROCESSING)
                ).values_list("amount", flat=True)
            )
            findings = [
                f"{e.sku} x{e.quantity} ({e.public_id}) was released before the return arrived: "
                f"a credit of {Money(e.credit_amount, currency)}"
                for e in given
            ]
            if paid:
                findings.append(f"{Money(paid, currency)} was refunded")
            collected = sum(max(0, e.difference_amount) for e in given if e.paid_at)
            return adjustment_open(
                ret=locked,
                cause=locked.status,
                amount=paid + sum(e.price_amount for e in given) - collected,
                findings=[*findings, f"the return is {locked.status}"],
                actor=actor,
            )
        if locked.status not in (INSPECTED, COMPLETED):
            return None
        early = [(e, c) for e in exchanges if (c := _credited_early(locked, e)) is not None]
        if not early:
            return None
        credits = exchange_credits(locked)
        excess, findings = 0, []
        for e, credited in early:
            now = credits.get(e.return_line_id, Credit(0, 0, {}))
            if credited <= now.amount:
                continue
            excess += credited - now.amount
            findings.append(
                f"{e.return_line.sku} ({e.public_id}, {e.status}): credited "
                f"{Money(credited, currency)} before inspection; inspection makes it "
                f"{Money(now.amount, currency)}"
            )
            findings.extend(
                f"{d['code']}: {d['reason']}"
                for d in now.line.get("deductions", [])
                if d.get("source") == "inspection"
            )
        return adjustment_open(
            ret=locked, cause="exchange", amount=excess, findings=findings, actor=actor
        )


def _credited_early(ret: Return, e: Exchange) -> int | None:
    """What an exchange credited for its returned units before they were inspected: the credit
    of one released early, or what a cancelled one refunded early; None when nothing was."""
    if e.status in (RELEASED, FULFILLED):
        return e.credit_amount if e.calculation.get("stage") != "inspection" else None
    if e.status != CANCELLED:
        return None
    refunded = Settlement.objects.filter(
        return_request=ret, resolution="exchange", calculation__exchange=e.public_id
    ).exclude(stage="inspection")
    early = list(
        refunded.filter(calculation__purpose=CANCELLATION).values_list("total_amount", flat=True)
    )
    if not early:
        return None
    return sum(early) + sum(_settled(ret, e, DIFFERENCE))


__all__ = [
    "exchange_cancel",
    "exchange_collect",
    "exchange_collection_paid",
    "exchange_credits",
    "exchange_fulfil",
    "exchange_get",
    "exchange_mark_paid",
    "exchange_transition",
    "exchanges_advance",
    "exchanges_collect",
    "exchanges_open",
    "exchanges_reconcile",
]
