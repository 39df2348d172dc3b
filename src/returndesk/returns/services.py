"""Creating returns and acting on them. Every channel (portal, API, agents) comes through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Func, IntegerField, OuterRef, Q, Subquery
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.catalog.models import Customer, Order, OrderLine, Product
from returndesk.catalog.services import normalize_email, paid_total
from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.errors import (
    ApplicationError,
    FieldError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from returndesk.core.money import discount_shares
from returndesk.core.uploads import uploads_check
from returndesk.policies.document import PolicyDocument
from returndesk.policies.engine import (
    Clause,
    CustomerHistory,
    Decision,
    LineSnapshot,
    OrderSnapshot,
    RequestInvalid,
    RequestLine,
    ReturnRequest,
    decide,
)
from returndesk.policies.models import BlocklistEntry, PolicyVersion
from returndesk.policies.risk import RiskAssessment, RiskSignals, risk_assess
from returndesk.policies.services import policy_document, policy_ensure_default
from returndesk.returns import selectors
from returndesk.returns.inputs import ReturnInput, ReturnLineInput
from returndesk.returns.lifecycle import return_event_record, return_transition
from returndesk.returns.models import (
    AUTHORIZED,
    CANCELLED,
    CHANNELS,
    COMPLETED,
    EXPIRED,
    LOST,
    PENDING_REVIEW,
    REJECTED,
    RELEASED_STATUSES,
    Return,
    ReturnLine,
)
from returndesk.returns.selectors import OrderNotFound, order_for_shopper, postal_key
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant, Provider


def _find_order(merchant: Merchant, data: ReturnInput, *, lock: bool) -> Order:
    return order_for_shopper(
        merchant=merchant,
        order_number=data.order_number,
        email=data.email,
        postal_code=data.gift_postal_code,
        lock=lock,
    )


def order_snapshot(order: Order, lines: Iterable[OrderLine], held: dict[int, int]) -> OrderSnapshot:
    """What the policy engine sees of an order."""
    lines = list(lines)
    products = {p.pk: p for p in Product.objects.filter(pk__in={line.product_id for line in lines})}
    # The order discount counts as part of each line's discount, as the refund calculator
    # shares it, so the estimate is what will be refunded.
    shares, _ = discount_shares(
        [li.unit_price_amount * li.quantity - li.discount_amount for li in lines],
        order.order_discount_total_amount,
    )
    share_of = {li.pk: share for li, share in zip(lines, shares, strict=True)}
    return OrderSnapshot(
        order_number=order.order_number,
        currency=order.currency,
        placed_at=order.placed_at,
        delivered_at=order.delivered_at,
        ship_country=order.ship_country,
        tax_included=order.tax_included,
        total=paid_total(
            (
                (li.unit_price_amount, li.quantity, li.discount_amount, li.tax_amount)
                for li in lines
            ),
            tax_included=order.tax_included,
            shipping=order.shipping_total_amount,
            order_discount=order.order_discount_total_amount,
        ),
        lines=tuple(
            LineSnapshot(
                line_id=li.line_id,
                sku=li.sku,
                name=li.name,
                category=products[li.product_id].category,
                quantity=li.quantity,
                unit_price=li.unit_price_amount,
                discount=li.discount_amount + share_of[li.pk],
                tax=li.tax_amount,
                returnable=products[li.product_id].returnable,
                final_sale=products[li.product_id].final_sale,
                already_returned=held.get(li.pk, 0),
            )
            for li in lines
        ),
    )


def _postal_key(order: Order) -> str:
    return (
        f"{order.ship_country}:{postal_key(order.ship_postal_code)}"
        if order.ship_postal_code
        else ""
    )


def _scalar(rows: Any, function: str, field: str = "pk", *, distinct: bool = False) -> Subquery:
    """`rows` reduced to one figure (SUM or COUNT of `field`) as a subquery, so several figures
    come back in one statement. A plain SQL function, not a Django aggregate, so no GROUP BY is
    added; NULL (no rows to sum) is read as 0."""
    template = f"{function}({'DISTINCT ' if distinct else ''}%(expressions)s)"
    reduced = Func(F(field), template=template, output_field=IntegerField())
    return Subquery(rows.order_by().annotate(figure=reduced).values("figure")[:1])


def customer_figures(
    merchant: Merchant, order: Order, policy: PolicyDocument, now: datetime
) -> tuple[RiskSignals, int]:
    """The figures behind the risk score, from this merchant's data (or the provider's, for
    e-mail based signals, where the provider shares risk history), and the customer's completed
    returns without a contradicting finding (`customer_history`).

    Every count is a subquery of one statement; only a blocklist hit or a contradicted return
    (both rare) is read again for its details."""
    shared = Provider.current().share_risk_history
    day_ago = now - timedelta(days=1)
    email = order.email
    with scopes_disabled():
        scope = Q() if shared else Q(merchant=merchant)
        returns = Return.objects.filter(scope, email=email)
        figures: dict[str, Subquery] = {}
        if email:
            since = now - timedelta(days=policy.auto_approval.recent_days)
            figures["bought"] = _scalar(
                OrderLine.objects.filter(scope, order__email=email), "SUM", "quantity"
            )
            figures["returned"] = _scalar(
                ReturnLine.objects.filter(return_request__in=returns).exclude(
                    return_request__status__in=RELEASED_STATUSES
                ),
                "SUM",
                "quantity",
            )
            figures["recent"] = _scalar(
                returns.filter(created_at__gte=since).exclude(status=REJECTED), "COUNT"
            )
            figures["email_24h"] = _scalar(returns.filter(created_at__gte=day_ago), "COUNT")
            # Earlier returns whose inspection contradicted this customer (the warehouse's
            # `Inspection.contradicted`, read through the reverse relation so that returns
            # does not import the warehouse).
            figures["contradicted"] = _scalar(
                returns.filter(inspections__contradicted=True), "COUNT", distinct=True
            )
            # What customer_history counts: completed returns at this merchant without a
            # contradicting finding.
            figures["completed"] = _scalar(
                Return.objects.filter(merchant=merchant, email=email, status=COMPLETED).exclude(
                    inspections__contradicted=True
                ),
                "COUNT",
            )
        if order.ship_postal_code:
            figures["address_24h"] = _scalar(
                Return.objects.filter(
                    merchant=merchant,
                    created_at__gte=day_ago,
                    order__ship_country=order.ship_country,
                    order__ship_postal_code=order.ship_postal_code,
                ).exclude(email=email),
                "COUNT",
            )
        listed = BlocklistEntry.objects.filter(Q(merchant=merchant) | Q(merchant__isnull=True))
        listed = listed.filter(
            Q(kind="email", value=email) | Q(kind="postal_code", value=_postal_key(order))
        )
        figures["blocklist_hit"] = Subquery(listed.order_by("pk").values("pk")[:1])
        row: Any = Merchant.objects.filter(pk=merchant.pk).values(**figures).get()
        got: dict[str, int] = {name: int(row.get(name) or 0) for name in figures}
        kinds: set[str] = set()
        if got.get("contradicted"):
            found = returns.filter(inspections__contradicted=True).values_list(
                "inspections__contradictions", flat=True
            )
            for codes in found:
                kinds.update(codes or ())
        hit = BlocklistEntry.objects.get(pk=got["blocklist_hit"]) if got["blocklist_hit"] else None
    blocklisted = ""
    if hit is not None:
        owner = "the merchant's" if hit.merchant_id else "the provider's"
        blocklisted = f"{hit.get_kind_display()} on {owner} blocklist"
    signals = RiskSignals(
        currency=order.currency,
        units_bought=got.get("bought", 0),
        units_returned=got.get("returned", 0),
        recent_returns=got.get("recent", 0),
        order_total=0,  # set by the caller, who has the order's lines
        email_returns_24h=got.get("email_24h", 0),
        address_returns_24h=got.get("address_24h", 0),
        blocklisted=blocklisted,
        contradicted_returns=got.get("contradicted", 0),
        contradictions=tuple(sorted(kinds)),
    )
    return signals, got.get("completed", 0)


def risk_signals(
    merchant: Merchant, order: Order, policy: PolicyDocument, now: datetime
) -> RiskSignals:
    """The figures behind the risk score (see `customer_figures`)."""
    return customer_figures(merchant, order, policy, now)[0]


def customer_history(
    merchant: Merchant, order: Order, signals: RiskSignals, risk: RiskAssessment
) -> CustomerHistory:
    """The customer's recent and completed returns at this merchant, and the risk score.

    A completed return counts only without a finding that contradicted the shopper at
    inspection (an empty box, the wrong item, a counterfeit, a serial not sold, a fault claimed
    and not found): the warehouse sets `contradicted` on the inspection, read here through the
    reverse relation so that returns does not import the warehouse. (`customer_figures` counts
    the same in its one statement for the request path.)"""
    completed = 0
    if order.email:
        completed = (
            Return.objects.filter(merchant=merchant, email=order.email, status=COMPLETED)
            .exclude(inspections__contradicted=True)
            .count()
        )
    return CustomerHistory(
        recent_returns=signals.recent_returns,
        completed_returns_without_finding=completed,
        risk_score=risk.score,
    )


def _request(data: ReturnInput, *, photos_pending: bool = False) -> ReturnRequest:
    return ReturnRequest(
        lines=tuple(
            RequestLine(
                line_id=line.line_id,
                quantity=line.quantity,
                reason=line.reason,
                has_photo=photos_pending or bool(line.photo_upload_ids),
            )
            for line in data.lines
        ),
        resolution=data.resolution,
        proof="receipt" if data.proof_of_purchase_upload_id else "order",
    )


def _check_uploads(merchant: Merchant, data: ReturnInput) -> None:
    for i, line in enumerate(data.lines):
        uploads_check(
            merchant_id=merchant.pk,
            ids=line.photo_upload_ids,
            purpose="photo",
            field=f"lines[{i}].photo_upload_ids",
        )
    if data.proof_of_purchase_upload_id:
        uploads_check(
            merchant_id=merchant.pk,
            ids=[data.proof_of_purchase_upload_id],
            purpose="receipt",
            field="proof_of_purchase_upload_id",
        )


def _check_input(data: ReturnInput, *, creating: bool = True) -> None:
    errors: list[FieldError] = []
    if data.channel not in CHANNELS:
        errors.append(FieldError("channel", f"must be one of {', '.join(CHANNELS)}"))
    if data.gift_postal_code:
        if data.email:
            errors.append(FieldError("email", "a gift return gives the postal code instead"))
        if data.resolution != "store_credit":
            errors.append(
                FieldError("resolution", "a gift return is refunded as store credit only")
            )
        if creating and not data.gift_recipient_email:
            errors.append(FieldError("gift.recipient_email", "is required for a gift return"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _check_exchanges(
    merchant: Merchant, data: ReturnInput, policy: PolicyDocument, currency: str
) -> None:
    """`exchange_for` names a product the merchant sells, in the order's currency, where the
    policy offers exchanges (not on a gift return: store credit only). 422 naming the field."""
    asked = [(i, line) for i, line in enumerate(data.lines) if line.exchange_sku]
    if not asked:
        return
    errors: list[FieldError] = []
    skus = {line.exchange_sku for _, line in asked}
    products = {p.sku: p for p in Product.objects.filter(merchant=merchant, sku__in=skus)}
    for i, line in asked:
        where = f"lines[{i}].exchange_for"
        product = products.get(line.exchange_sku)
        if not policy.resolutions.exchange:
            errors.append(FieldError(where, "the return policy offers no exchanges"))
        elif data.gift_postal_code:
            errors.append(FieldError(where, "a gift return is refunded as store credit only"))
        elif line.exchange_quantity < 1:
            errors.append(FieldError(f"{where}.quantity", "at least 1"))
        elif product is None:
            errors.append(FieldError(f"{where}.sku", f"no product '{line.exchange_sku}' is sold"))
        elif product.currency != currency or product.price_amount <= 0:
            errors.append(
                FieldError(f"{where}.sku", f"'{line.exchange_sku}' is not sold in {currency}")
            )
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


@dataclass
class _Case:
    """A request made ready for the engine: against an order in the system, or (`order` None)
    against an uploaded receipt for an order that is not there."""

    order: Order | None
    subject: Order  # what risk and history look at; an unsaved stand-in for a receipt
    snapshot: OrderSnapshot
    request: ReturnRequest
    # snapshot line id -> (the order line or None, the request line)
    lines: dict[str, tuple[OrderLine | None, ReturnLineInput]]
    products: dict[str, Product]


def _order_case(
    merchant: Merchant, data: ReturnInput, order: Order, *, lock: bool, photos_pending: bool = False
) -> _Case:
    missing = [
        FieldError(f"lines[{i}].line_id", "is required (or give a sku with a receipt)")
        for i, line in enumerate(data.lines)
        if not line.line_id
    ]
    if missing:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in missing), errors=missing
        )
    # The units other returns already hold come along with each line (a statement less than
    # reading them apart). The products are read apart, by primary key: joined here,
    # PostgreSQL hashes the whole catalogue for an order of a few lines.
    held = ReturnLine.objects.filter(return_request__order=order, order_line=OuterRef("pk"))
    held = held.exclude(return_request__status__in=RELEASED_STATUSES)
    lines_qs = (
        OrderLine.objects.filter(order=order)
        .annotate(units_held=_scalar(held, "SUM", "quantity"))
        .order_by("position")
    )
    if lock:
        # Concurrent requests for the same order wait here, so the last unit goes once.
        lines_qs = lines_qs.select_for_update(of=("self",))
    lines = list(lines_qs)
    by_id = {line.line_id: line for line in lines}
    return _Case(
        order=order,
        subject=order,
        snapshot=order_snapshot(
            order, lines, {line.pk: line.units_held for line in lines if line.units_held}
        ),
        request=_request(data, photos_pending=photos_pending),
        lines={line.line_id: (by_id.get(line.line_id), line) for line in data.lines},
        products={},
    )


def _receipt_case(merchant: Merchant, data: ReturnInput, now: datetime) -> _Case:
    """The order is not in the system: the products named, at their catalogue prices (never a
    price the client sends), and the receipt for staff to check in review."""
    errors: list[FieldError] = []
    if not data.email:
        errors.append(FieldError("email", "a return on a receipt needs the shopper's e-mail"))
    products = {
        p.sku: p
        for p in Product.objects.filter(merchant=merchant, sku__in={x.sku for x in data.lines})
    }
    for i, line in enumerate(data.lines):
        if not line.sku:
            errors.append(FieldError(f"lines[{i}].sku", "is required for a return on a receipt"))
        elif line.sku not in products:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown SKU '{line.sku}'"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    ids = [f"R{i}" for i in range(1, len(data.lines) + 1)]
    snapshot_lines = tuple(
        LineSnapshot(
            line_id=line_id,
            sku=line.sku,
            name=products[line.sku].name,
            category=products[line.sku].category,
            quantity=max(line.quantity, 1),
            unit_price=products[line.sku].price_amount,
            discount=0,
            tax=0,
            returnable=products[line.sku].returnable,
            final_sale=products[line.sku].final_sale,
            already_returned=0,
        )
        for line_id, line in zip(ids, data.lines, strict=True)
    )
    stand_in = Order(
        merchant=merchant, email=normalize_email(data.email), currency=merchant.currency
    )
    return _Case(
        order=None,
        subject=stand_in,
        snapshot=OrderSnapshot(
            order_number=data.order_number,
            currency=merchant.currency,
            placed_at=now,
            delivered_at=None,
            ship_country="",
            tax_included=False,
            lines=snapshot_lines,
            total=sum(x.unit_price * x.quantity for x in snapshot_lines),
            purchase_date_known=False,
        ),
        request=replace(
            _request(data),
            lines=tuple(
                replace(request_line, line_id=line_id)
                for line_id, request_line in zip(ids, _request(data).lines, strict=True)
            ),
        ),
        lines={line_id: (None, line) for line_id, line in zip(ids, data.lines, strict=True)},
        products=products,
    )


def _find_case(
    merchant: Merchant,
    data: ReturnInput,
    now: datetime,
    *,
    lock: bool,
    photos_pending: bool = False,
) -> _Case:
    try:
        order = _find_order(merchant, data, lock=lock)
    except OrderNotFound:
        if not data.proof_of_purchase_upload_id or data.gift_postal_code:
            raise
        return _receipt_case(merchant, data, now)
    return _order_case(merchant, data, order, lock=lock, photos_pending=photos_pending)


def _decide(
    merchant: Merchant, case: _Case, now: datetime, *, waive: bool = False
) -> tuple[PolicyVersion, PolicyDocument, Decision, RiskAssessment]:
    """The policy's decision; with `waive`, the one it would take without its line blocks
    (final sale, not returnable, an ended window): what an override can grant."""
    version = policy_ensure_default(merchant=merchant)
    policy = policy_document(version)
    signals, completed = customer_figures(merchant, case.subject, policy, now)
    signals = replace(signals, order_total=case.snapshot.total)
    risk = risk_assess(signals, policy.risk_weights)
    judged, snapshot, at = policy, case.snapshot, now
    if waive:
        judged = policy.model_copy(
            update={"non_returnable_skus": [], "non_returnable_categories": []}
        )
        snapshot = replace(
            snapshot,
            lines=tuple(
                replace(line, returnable=True, final_sale=False) for line in snapshot.lines
            ),
        )
        at = min(now, snapshot.placed_at)  # no window has ended on the day of purchase
    try:
        decision = decide(
            judged,
            snapshot,
            case.request,
            CustomerHistory(
                recent_returns=signals.recent_returns,
                completed_returns_without_finding=completed,
                risk_score=risk.score,
            ),
            now=at,
            timezone=merchant.timezone,
        )
    except RequestInvalid as exc:
        errors = [FieldError(f, m) for f, m in exc.errors]
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None
    return version, policy, decision, risk


def decision_as_dict(decision: Decision, policy: PolicyDocument) -> dict[str, Any]:
    data = asdict(decision)
    for verdict in data["verdicts"]:
        if verdict["window_ends_at"] is not None:
            verdict["window_ends_at"] = verdict["window_ends_at"].isoformat()
    data["days_to_ship"] = policy.days_to_ship
    return data


def risk_as_dict(risk: RiskAssessment) -> dict[str, Any]:
    return {
        "score": float(risk.score),
        "reasons": [
            {"signal": r.signal, "points": float(r.points), "detail": r.detail}
            for r in risk.reasons
        ],
    }


def eligibility_check(
    *, merchant: Merchant, data: ReturnInput, photos_pending: bool = False
) -> dict[str, Any]:
    """The decision the policy would take now, with the policy version; writes nothing.
    `photos_pending` judges the lines as if their photos were attached: the portal asks which
    items can go back before the shopper has chosen reasons or taken photos."""
    _check_input(data, creating=False)
    _check_uploads(merchant, data)
    now = timezone.now()
    case = _find_case(merchant, data, now, lock=False, photos_pending=photos_pending)
    version, policy, decision, risk = _decide(merchant, case, now)
    _check_exchanges(merchant, data, policy, case.snapshot.currency)
    return {
        "policy_version": version.version,
        "decision": decision_as_dict(decision, policy),
        "risk": risk_as_dict(risk),
    }


def return_create(
    *, actor: Actor, merchant: Merchant, data: ReturnInput, override_reason: str | None = None
) -> Return:
    """Check a request against the policy and record it as an authorized, in-review or
    rejected return with its RAN, its lines, its timeline and its outbox events.

    With `override_reason`, an actor allowed to override (returns.override) authorizes what the
    policy refused or sent to review; who, why and what the policy said are kept in the
    decision (`decision["override"]`) and on the timeline (`return.policy_overridden`)."""
    _check_input(data)
    if override_reason is not None:
        if not actor.can(perm.RETURNS_OVERRIDE):
            raise PermissionDenied("Your role may not override the return policy.")
        if not override_reason.strip():
            raise ValidationFailed.on(
                "override_reason", "say why you override the policy: it goes on the timeline"
            )
    _check_uploads(merchant, data)
    for _ in range(5):
        try:
            ret = _create(
                actor=actor, merchant=merchant, data=data, override_reason=override_reason
            )
        except _RanTaken:
            continue  # a RAN collision (60 random bits): everything again with another draw
        # Read back once as the API shows it (with its order, policy version and lines), in place
        # of a refresh that every caller followed with that same read.
        with scopes_disabled():
            return selectors.return_get(merchant=merchant, ran=ret.ran)
    raise ApplicationError("Could not allocate a return number; try again.", status=503)


class _RanTaken(Exception):
    """The RAN drawn is already used: the transaction is rolled back and the return made again
    (no savepoint around the insert, which would cost two round trips on every return)."""


def _create(
    *, actor: Actor, merchant: Merchant, data: ReturnInput, override_reason: str | None
) -> Return:
    with transaction.atomic():
        now = timezone.now()
        case = _find_case(merchant, data, now, lock=True)
        version, policy, decision, risk = _decide(merchant, case, now)
        _check_exchanges(merchant, data, policy, case.snapshot.currency)
        decision_data = decision_as_dict(decision, policy)
        override: dict[str, Any] | None = None
        if override_reason is not None:
            decision, decision_data, override = _override(
                merchant, case, now, decision, decision_data, actor, override_reason.strip()
            )
        fees = sum(fee.amount for fee in decision.fees)
        ret = _new_return(
            merchant=merchant,
            case=case,
            data=data,
            actor=actor,
            version=version,
            decision=decision,
            decision_data=decision_data,
            fees=fees,
            risk=risk,
        )
        lines = ReturnLine.objects.bulk_create(
            [
                _return_line(
                    merchant, ret, case, verdict.line_id, verdict.allowed_quantity, verdict.value
                )
                for verdict in decision.verdicts
                if verdict.eligible
            ]
        )
        _keep_lines(ret, lines)
        return_event_record(
            ret=ret,
            type="return.created",
            actor=actor,
            channel=data.channel,
            reason=data.note,
            to_status="",
            payload={"policy_version": version.version, "channel": data.channel},
        )
        if override is not None:
            return_event_record(
                ret=ret,
                type="return.policy_overridden",
                actor=actor,
                channel=data.channel,
                reason=override["reason"],
                payload={"policy_outcome": override["policy_outcome"], "lines": override["lines"]},
            )
        # The row was inserted by this transaction, so no one else can see it, let alone hold
        # it: the first move needs no lock, no savepoint and no re-read.
        return_transition(
            ret=ret,
            to_status=decision.outcome,
            actor=actor,
            channel=data.channel,
            reason=(
                f"policy overridden: {override['reason']}"
                if override is not None
                else "; ".join(c.staff_message for c in decision.review_clauses)
            ),
            lock_held=True,
        )
    return ret


def _keep_lines(ret: Return, lines: list[ReturnLine]) -> None:
    """Keep the lines just written on `ret` as a prefetch would (in primary-key order, as a read
    gives them), so the transition's hooks see them without reading them back."""
    held: Any = ret.lines.all()
    held._result_cache = sorted(lines, key=lambda line: line.pk)
    held._prefetch_done = True
    ret._prefetched_objects_cache = {"lines": held}  # type: ignore[attr-defined]


def _override(
    merchant: Merchant,
    case: _Case,
    now: datetime,
    policy_decision: Decision,
    policy_data: dict[str, Any],
    actor: Actor,
    reason: str,
) -> tuple[Decision, dict[str, Any], dict[str, Any] | None]:
    """The decision an override makes: the lines the policy blocked get the units still
    available (never more than were bought), and the return is authorized. Each overridden
    verdict keeps the policy's clauses and adds an `overridden` one. Nothing to override (the
    policy already authorizes all it can) leaves the policy's decision as it is."""
    _, policy, waived, _ = _decide(merchant, case, now, waive=True)
    policy_allowed = {v.line_id: v.allowed_quantity for v in policy_decision.verdicts}
    changed = [v for v in waived.verdicts if v.allowed_quantity != policy_allowed[v.line_id]]
    any_eligible = any(v.eligible for v in waived.verdicts)
    if not any_eligible or (not changed and policy_decision.outcome == AUTHORIZED):
        return policy_decision, policy_data, None
    note = Clause(
        "overridden",
        "Accepted as an exception",
        f"policy overridden by {actor.label}: {reason}",
    )
    clauses = {v.line_id: v.clauses for v in policy_decision.verdicts}
    decision = replace(
        waived,
        outcome=AUTHORIZED,
        review_clauses=(),
        verdicts=tuple(
            replace(v, clauses=(*clauses[v.line_id], note))
            if v.line_id in {c.line_id for c in changed}
            else replace(v, clauses=clauses[v.line_id])
            for v in waived.verdicts
        ),
    )
    override = {
        "by": actor.label,
        "user_id": actor.user_id,
        "reason": reason,
        "at": now.isoformat(),
        "policy_outcome": policy_decision.outcome,
        "lines": [
            {
                "line_id": v.line_id,
                "policy_allowed": policy_allowed[v.line_id],
                "allowed": v.allowed_quantity,
            }
            for v in changed
        ],
        "policy_decision": {
            key: policy_data[key]
            for key in ("outcome", "verdicts", "review_clauses", "fees", "refund_estimate")
        },
    }
    data = decision_as_dict(decision, policy)
    data["override"] = override
    return decision, data, override


def _return_line(
    merchant: Merchant, ret: Return, case: _Case, line_id: str, quantity: int, value: int
) -> ReturnLine:
    order_line, given = case.lines[line_id]
    product = case.products.get(given.sku)
    return ReturnLine(
        merchant=merchant,
        return_request=ret,
        order_line=order_line,
        sku=order_line.sku if order_line else given.sku,
        name=order_line.name if order_line else (product.name if product else ""),
        quantity=quantity,
        reason=given.reason,
        comment=given.comment,
        photo_upload_ids=list(given.photo_upload_ids),
        exchange_sku=given.exchange_sku,
        exchange_quantity=given.exchange_quantity,
        currency=ret.currency,
        value_amount=value,
    )


def _new_return(
    *,
    merchant: Merchant,
    case: _Case,
    data: ReturnInput,
    actor: Actor,
    version: PolicyVersion,
    decision: Decision,
    decision_data: dict[str, Any],
    fees: int,
    risk: RiskAssessment,
) -> Return:
    order = case.order
    customer = (
        order.customer
        if order is not None
        else Customer.objects.filter(merchant=merchant, email=case.subject.email).first()
    )
    try:
        return Return.objects.create(
            merchant=merchant,
            ran=generate_ran(),
            order=order,
            claimed_order_number="" if order is not None else data.order_number,
            customer=customer,
            email=case.subject.email,
            status="",  # "(new)": the first transition sets it
            channel=data.channel,
            resolution=decision.resolution,
            policy_version=version,
            decision=decision_data,
            currency=case.snapshot.currency,
            refund_estimate_amount=decision.refund_estimate,
            risk_score=risk.score,
            risk_reasons=risk_as_dict(risk)["reasons"],
            fees_amount=fees,
            gift=bool(data.gift_postal_code),
            gift_recipient_email=normalize_email(data.gift_recipient_email),
            note=data.note,
            proof_of_purchase_upload_id=data.proof_of_purchase_upload_id,
            created_by_label=actor.label,
            created_by_user_id=actor.user_id,
            created_by_api_key_id=actor.api_key_id,
        )
    except IntegrityError:
        raise _RanTaken from None


# What each staff action asks for; where it may start from is the transition table's business.
ACTIONS = {
    "approve": AUTHORIZED,
    "reject": REJECTED,
    "cancel": CANCELLED,
    "reopen": AUTHORIZED,
    "mark-lost": LOST,
}
ACTION_SOURCES = {"approve": PENDING_REVIEW, "reopen": EXPIRED}


def return_act(*, actor: Actor, ret: Return, action: str, reason: str, channel: str = "") -> Return:
    """Approve, reject, cancel, reopen or mark lost, each with a reason for the timeline."""
    if action not in ACTIONS:
        raise NotFound(f"No action '{action}'.")
    if not reason.strip():
        raise ValidationFailed.on("reason", "say why: it goes on the return's timeline")
    target = ACTIONS[action]
    source = ACTION_SOURCES.get(action)
    if source is not None and ret.status != source:
        # approve leaves pending_review only; reopen only undoes an expiry.
        raise InvalidTransition(
            f"Return {ret.ran} is {ret.status}; only a {source} one can be {action}d."
        )
    return return_transition(
        ret=ret, to_status=target, actor=actor, reason=reason.strip(), channel=channel
    )


def returns_expire_due(*, now: datetime | None = None) -> int:
    """Authorized returns not shipped before their deadline expire (a periodic job)."""
    now = now or timezone.now()
    actor = Actor.system("expiry")
    expired = 0
    with scopes_disabled():  # a provider-wide job: every merchant's returns
        due = Return.objects.filter(status=AUTHORIZED, expires_at__lt=now)
        for ret in list(due.order_by("expires_at")[:500]):
            try:
                return_transition(
                    ret=ret,
                    to_status=EXPIRED,
                    actor=actor,
                    reason="not shipped before the deadline",
                )
                expired += 1
            except ApplicationError:
                continue  # moved on meanwhile (shipped, cancelled): nothing to expire
    return expired
