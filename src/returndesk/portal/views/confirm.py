"""Step 5: the figures before confirming, the confirmation itself (once, however often the button
is pressed), and the page that shows the RAN with its codes."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from returndesk.catalog.models import OrderLine, Product
from returndesk.core.codes import RanInvalid, format_ran, parse_ran
from returndesk.core.errors import ApplicationError, NotFound, ValidationFailed
from returndesk.core.idempotency import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_release,
)
from returndesk.core.tenancy import merchant_scope
from returndesk.portal import present
from returndesk.portal.links import status_url
from returndesk.portal.state import (
    DONE_KEY,
    RETURNS_KEY,
    Found,
    confirm_token,
    draft_fingerprint,
    draft_of,
    return_input,
    return_seen,
)
from returndesk.portal.symbols import code128_svg, qr_svg
from returndesk.portal.views.common import merchant_or_404, page, problem_text, shopper
from returndesk.portal.views.flow import (
    check,
    draft_items,
    line_errors,
    reasons_done,
    shopper_step,
)
from returndesk.portal.views.shipping import label_context, label_try_issue
from returndesk.returns.models import AUTHORIZED, Return, ReturnLine
from returndesk.returns.selectors import return_get
from returndesk.returns.services import return_create
from returndesk.returns.shopper import return_packing
from returndesk.tenants.models import Merchant

# How long a repeated confirm waits for the first one to finish before saying it is still busy.
WAIT_FOR_FIRST_SECONDS = 10.0


def _next_missing(merchant: Merchant, found: Found, draft: dict[str, Any]) -> str | None:
    """The step still to do, if any."""
    if not draft["lines"]:
        return reverse("portal:order", args=[merchant.slug])
    if not reasons_done(draft):
        return reverse("portal:reasons", args=[merchant.slug])
    if (
        not draft["resolution"]
        or (found.gift and not draft.get("recipient_email"))
        or (
            draft["resolution"] == "exchange"
            and not all(line["exchange_sku"] for line in draft["lines"])
        )
    ):
        return reverse("portal:resolution", args=[merchant.slug])
    return None


def figures(merchant: Merchant, decision: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The decision's figures, written for the shopper: each line, each fee, the estimate, the
    bonus and when the money comes."""
    currency = decision["currency"]

    def money(amount: int) -> str:
        return present.money(merchant, amount, currency)

    lines = []
    for verdict in decision["verdicts"]:
        lines.append(
            {
                "name": names.get(verdict["line_id"], verdict["line_id"]),
                "eligible": verdict["eligible"],
                "quantity": verdict["allowed_quantity"],
                "requested": verdict["requested_quantity"],
                "value": money(verdict["value"]),
                "messages": [
                    present.clause_text(merchant, c, verdict.get("window_ends_at"))
                    for c in verdict["clauses"]
                    if verdict["eligible"] or c["code"] in present.BLOCKING_CLAUSES
                ],
            }
        )
    fees = [
        {
            "label": str(present.FEE_TEXT.get(fee["code"], fee["code"])),
            "item": names.get(fee["line_id"] or "", ""),
            "amount": money(fee["amount"]),
        }
        for fee in decision.get("fees", [])
    ]
    subtotal = sum(v["value"] for v in decision["verdicts"] if v["eligible"])
    estimate, bonus = decision["refund_estimate"], decision.get("store_credit_bonus", 0)
    review = []
    for clause in decision.get("review_clauses", []):
        text = present.clause_text(merchant, clause, None)
        if text not in review:
            review.append(text)
    return {
        "lines": lines,
        "fees": fees,
        "subtotal": money(subtotal),
        "estimate": money(estimate),
        "bonus": money(bonus) if bonus else "",
        "credit_total": money(estimate + bonus),
        "timing": present.timing(decision.get("refund_timing", "")),
        "resolution": decision.get("resolution", ""),
        "resolution_label": present.RESOLUTION_TEXT.get(decision.get("resolution", ""), ""),
        "outcome": decision.get("outcome", ""),
        "review": review,
        "condition": decision.get("condition_required", ""),
    }


@shopper_step
def review(request: HttpRequest, merchant: Merchant, found: Found) -> HttpResponse:
    """Step 5: the figures as the policy has them now, and the button that makes the return."""
    draft = draft_of(request, found)
    missing = _next_missing(merchant, found, draft)
    if request.method == "POST":
        done = request.session.get(DONE_KEY, {})
        token = request.POST.get("token", "")
        if token and token in done:  # confirmed already: the same answer again
            return redirect(reverse("portal:confirmation", args=[merchant.slug, done[token]]))
        if missing is None and token and token == draft.get("token"):
            return _confirm(request, merchant, found, draft, token)
        notice = _("The details changed since this page was shown. Check them and confirm again.")
    else:
        notice = ""
    if missing is not None:
        return redirect(missing)
    return _show_review(request, merchant, found, draft, notice=notice)


def _show_review(
    request: HttpRequest,
    merchant: Merchant,
    found: Found,
    draft: dict[str, Any],
    *,
    notice: str = "",
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    names = {key: line.name for key, line in draft_items(request, found, draft).items()}
    try:
        decision = check(request, merchant, found, draft)["decision"]
    except ValidationFailed as exc:
        # Something the earlier steps accepted no longer holds (a photo gone, the policy
        # changed): back to the step that can fix it, with the reason.
        by_line, general = line_errors(exc, draft)
        return page(
            request,
            "portal/unavailable.html",
            merchant,
            {
                "message": " ".join([*by_line.values(), *general]),
                "back": reverse("portal:reasons", args=[merchant.slug]),
            },
            status=409,
        )
    exchange = {
        line["line_id"]: line["exchange_sku"] for line in draft["lines"] if line["exchange_sku"]
    }
    products = dict(
        Product.objects.filter(merchant=merchant, sku__in=set(exchange.values())).values_list(
            "sku", "name"
        )
    )
    context = {
        "figures": figures(merchant, decision, names),
        "exchanges": [
            {"name": names.get(line_id, line_id), "instead": products.get(sku, sku)}
            for line_id, sku in exchange.items()
        ],
        "gift": found.gift,
        "recipient_email": draft.get("recipient_email", ""),
        "token": confirm_token(request, draft),
        "notice": notice,
        "errors": errors or [],
        "step": 5,
    }
    return page(request, "portal/review.html", merchant, context, status=409 if notice else status)


def _confirm(
    request: HttpRequest, merchant: Merchant, found: Found, draft: dict[str, Any], token: str
) -> HttpResponse:
    """Create the return once per confirm token. A second press while the first is running
    waits for it; one after it gets the same return. The return and the record that it was
    made commit together."""
    credential = f"portal:{merchant.pk}"
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        try:
            begun = idempotency_begin(
                credential=credential, key=token, fingerprint=draft_fingerprint(draft)
            )
            break
        except IdempotencyKeyReused:
            return _show_review(
                request,
                merchant,
                found,
                draft,
                notice=_("The details changed since this page was shown. Check them again."),
            )
        except IdempotencyInProgress:
            if time.monotonic() >= deadline:
                return page(request, "portal/pending.html", merchant, {"token": token}, status=202)
            time.sleep(0.25)
    if isinstance(begun, StoredResponse):
        ran = begun.body.decode()
    else:
        try:
            with transaction.atomic():
                ret = return_create(
                    actor=shopper(gift=found.gift),
                    merchant=merchant,
                    data=return_input(found, draft),
                )
                idempotency_complete(
                    record_id=begun,
                    response=StoredResponse(
                        status=303, content_type="text/plain", body=ret.ran.encode()
                    ),
                )
        except ApplicationError as exc:
            idempotency_release(record_id=begun)
            by_line, general = (
                line_errors(exc, draft)
                if isinstance(exc, ValidationFailed)
                else ({}, [problem_text(exc.detail)])
            )
            return _show_review(
                request,
                merchant,
                found,
                draft,
                errors=[*by_line.values(), *general],
                status=422,
            )
        except BaseException:
            idempotency_release(record_id=begun)
            raise
        ran = ret.ran
        if ret.status == AUTHORIZED:
            label_try_issue(merchant, ret, actor=shopper(gift=found.gift))
    return_seen(request, ran=ran, token=token)
    return redirect(reverse("portal:confirmation", args=[merchant.slug, ran]))


def symbols(ran: str) -> dict[str, Any]:
    shown = format_ran(ran)
    return {
        "qr": qr_svg(ran, title=_("QR code of return %(ran)s") % {"ran": shown}),
        "barcode": code128_svg(ran, title=_("Barcode of return %(ran)s") % {"ran": shown}),
    }


def _line_names(ret: Return, decision: dict[str, Any]) -> dict[str, str]:
    """The decision's line ids as item names. A return on a receipt has no order: its lines
    were made from the eligible verdicts (R1, R2...), in their order."""
    if ret.order_id:
        return dict(OrderLine.objects.filter(order_id=ret.order_id).values_list("line_id", "name"))
    eligible = [v["line_id"] for v in decision.get("verdicts", []) if v.get("eligible")]
    made = (
        ReturnLine.objects.filter(return_request=ret).order_by("pk").values_list("name", flat=True)
    )
    return dict(zip(eligible, made, strict=False))


def return_context(merchant: Merchant, ret: Return) -> dict[str, Any]:
    """What the confirmation and the status page both show of a return."""
    decision = ret.decision or {}
    names = _line_names(ret, decision)
    context: dict[str, Any] = {
        "ret": ret,
        "ran": format_ran(ret.ran),
        "authorized": ret.status == "authorized",
        "packing": return_packing(ret=ret),
        "expires": present.day(merchant, ret.expires_at) if ret.expires_at else "",
        # Imported historical returns carry no decision to show.
        "figures": figures(merchant, decision, names)
        if "verdicts" in decision and "refund_estimate" in decision
        else None,
        "rejections": [],
    }
    if context["figures"]:
        context["rejections"] = [
            {"name": line["name"], "messages": line["messages"]}
            for line in context["figures"]["lines"]
            if not line["eligible"]
        ]
    if context["authorized"]:
        context.update(symbols(ret.ran))
    context.update(label_context(merchant, ret))
    return context


def confirmation(request: HttpRequest, slug: str, ran: str) -> HttpResponse:
    """The RAN in large type with its QR code and barcode, what to pack, and what comes next.
    Only the session that made the return sees this page; anyone else uses the status link."""
    merchant = merchant_or_404(slug)
    try:
        code = parse_ran(ran)
    except RanInvalid:
        raise Http404 from None
    if code not in request.session.get(RETURNS_KEY, []):
        raise Http404
    with merchant_scope(merchant):
        try:
            ret = return_get(merchant=merchant, ran=code)
        except NotFound:  # another merchant's return, under this merchant's address
            raise Http404 from None
        context = return_context(merchant, ret)
    context["status_url"] = request.build_absolute_uri(status_url(merchant, ret.ran))
    context["recipient_email"] = ret.gift_recipient_email if ret.gift else ""
    return page(request, "portal/confirmation.html", merchant, context)
