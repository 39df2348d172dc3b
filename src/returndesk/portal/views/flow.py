"""Steps 2 to 4: the items and how many, the reason for each (with photos where the policy asks
for them), and the resolution. Each step asks the services what the policy says; the session
only remembers the shopper's choices."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from returndesk.catalog.models import Order, OrderLine, Product
from returndesk.core.errors import ValidationFailed
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import MAX_UPLOAD_BYTES
from returndesk.policies.document import PolicyDocument
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_document
from returndesk.portal import present
from returndesk.portal.state import (
    MAX_PHOTOS,
    Found,
    draft_line,
    draft_of,
    draft_save,
    forget_order,
    found_order,
    return_input,
)
from returndesk.portal.views.common import (
    image_upload,
    merchant_or_404,
    page,
    problem_text,
    shopper,
)
from returndesk.returns.selectors import OrderNotFound
from returndesk.returns.services import eligibility_check
from returndesk.returns.shopper import exchange_options
from returndesk.tenants.models import Merchant

_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(\w+)")


class Restart(Exception):
    """The session no longer leads to an order (none found yet, or it changed): start again."""


def restart(merchant: Merchant) -> HttpResponse:
    return redirect(reverse("portal:find", args=[merchant.slug]))


def policy_of(merchant: Merchant) -> PolicyDocument:
    return policy_document(policy_current(merchant=merchant))


def receipts_accepted(merchant: Merchant) -> bool:
    """The policy lets a shopper whose order is not in the system return on a receipt."""
    with merchant_scope(merchant):
        return policy_of(merchant).proof_of_purchase == "order_or_receipt"


def offered(found: Found, policy: PolicyDocument) -> tuple[str, ...]:
    """The resolutions this shopper may choose: a gift's recipient gets store credit only."""
    if found.gift:
        return ("store_credit",) if policy.resolutions.store_credit else ()
    return policy.resolutions.offered()


def order_and_lines(request: HttpRequest, found: Found) -> tuple[Order, list[OrderLine]]:
    order = Order.objects.filter(pk=found.order_id).first()
    if order is None:
        forget_order(request)
        raise Restart
    return order, list(OrderLine.objects.filter(order=order).order_by("position"))


def draft_items(request: HttpRequest, found: Found, draft: dict[str, Any]) -> dict[str, OrderLine]:
    """The draft's items by line id: the order's lines, or on a receipt the catalogue's
    products as unsaved stand-in lines (as the services price them)."""
    if not found.receipt:
        return {line.line_id: line for line in order_and_lines(request, found)[1]}
    products = {
        p.sku: p
        for p in Product.objects.filter(
            merchant_id=found.merchant_id, sku__in={line["sku"] for line in draft["lines"]}
        )
    }
    return {
        line["line_id"]: OrderLine(
            line_id=line["line_id"],
            sku=product.sku,
            name=product.name,
            product=product,
            quantity=int(line["quantity"]),
            unit_price_amount=product.price_amount,
            currency=product.currency,
        )
        for line in draft["lines"]
        if (product := products.get(line["sku"])) is not None
    }


def check(
    request: HttpRequest,
    merchant: Merchant,
    found: Found,
    draft: dict[str, Any],
    *,
    resolution: str | None = None,
    photos_pending: bool = False,
) -> dict[str, Any]:
    """The services' decision for the draft as it stands (writes nothing)."""
    try:
        return eligibility_check(
            merchant=merchant,
            data=return_input(found, draft, resolution=resolution),
            photos_pending=photos_pending,
        )
    except OrderNotFound:
        forget_order(request)  # the order changed under the shopper (e-mail, number)
        raise Restart from None


def line_errors(exc: ValidationFailed, draft: dict[str, Any]) -> tuple[dict[int, str], list[str]]:
    """A service's field errors, placed on the line they name (by the line's number `n`)."""
    by_line: dict[int, str] = {}
    general: list[str] = []
    for error in exc.errors or []:
        match = _LINE_FIELD.match(error.field)
        if match and int(match.group(1)) < len(draft["lines"]):
            n = int(draft["lines"][int(match.group(1))]["n"])
            by_line.setdefault(n, problem_text(error.message))
        else:
            general.append(problem_text(error.message))
    if not exc.errors:
        general.append(problem_text(exc.detail))
    return by_line, general


def _unavailable(request: HttpRequest, merchant: Merchant, message: str) -> HttpResponse:
    return page(request, "portal/unavailable.html", merchant, {"message": message}, status=409)


def shopper_step(view: Any) -> Any:
    """The merchant, the order found in step 1 and the tenant scope, for every step."""

    def wrapped(request: HttpRequest, slug: str) -> HttpResponse:
        merchant = merchant_or_404(slug)
        found = found_order(request, merchant)
        if found is None:
            return restart(merchant)
        with merchant_scope(merchant):
            try:
                response: HttpResponse = view(request, merchant, found)
            except Restart:
                return restart(merchant)
        return response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# ----------------------------------------------------------------------------------------------
# Step 2: items and quantities


@shopper_step
def items(request: HttpRequest, merchant: Merchant, found: Found) -> HttpResponse:
    """Step 2: which items, how many; the ones the policy refuses say why."""
    if found.receipt:
        return redirect(reverse("portal:receipt_items", args=[merchant.slug]))
    order, lines = order_and_lines(request, found)
    if not lines:
        return _unavailable(request, merchant, _("This order has no items to return."))
    policy = policy_of(merchant)
    resolutions = offered(found, policy)
    if not resolutions:
        return _unavailable(request, merchant, _gift_unavailable(merchant))
    # Every line at its full quantity, with any reason: which can go back, and how many.
    probe = {
        "lines": [
            {**draft_line(line.line_id, n, line.quantity), "reason": policy.reasons[0].code}
            for n, line in enumerate(lines, start=1)
        ],
        "recipient_email": "",
    }
    try:
        result = check(
            request, merchant, found, probe, resolution=resolutions[0], photos_pending=True
        )
    except ValidationFailed as exc:
        return _unavailable(request, merchant, problem_text(exc.detail))
    verdicts = {v["line_id"]: v for v in result["decision"]["verdicts"]}
    draft = draft_of(request, found)
    chosen = {line["line_id"]: int(line["quantity"]) for line in draft["lines"]}
    rows = []
    for n, line in enumerate(lines, start=1):
        verdict = verdicts[line.line_id]
        clauses = verdict["clauses"]
        rows.append(
            {
                "n": n,
                "line_id": line.line_id,
                "name": line.name,
                "sku": line.sku,
                "bought": line.quantity,
                "price": present.money(merchant, line.unit_price_amount, line.currency),
                "eligible": verdict["eligible"],
                "available": verdict["allowed_quantity"],
                "choices": list(range(verdict["allowed_quantity"] + 1)),
                "selected": chosen.get(line.line_id, 0),
                "blocking": [
                    present.clause_text(merchant, c, verdict.get("window_ends_at"))
                    for c in clauses
                    if c["code"] in present.BLOCKING_CLAUSES
                ],
                "notes": [
                    present.clause_text(merchant, c, verdict.get("window_ends_at"))
                    for c in clauses
                    if c["code"] in present.ITEM_NOTE_CLAUSES
                ],
                "error": "",
            }
        )
    context: dict[str, Any] = {
        "order": order,
        "placed": present.day(merchant, order.placed_at),
        "rows": rows,
        "gift": found.gift,
        "errors": [],
        "step": 2,
    }
    if request.method != "POST":
        return page(request, "portal/items.html", merchant, context)

    picked: list[tuple[dict[str, Any], int]] = []
    for row in rows:
        if not row["eligible"]:
            continue
        raw = request.POST.get(f"qty-{row['n']}", "0").strip() or "0"
        try:
            quantity = int(raw)
        except ValueError:
            quantity = -1
        if quantity < 0 or quantity > row["available"]:
            row["error"] = _("Choose a number from 0 to %(most)d.") % {"most": row["available"]}
            context["errors"].append((f"qty-{row['n']}", row["error"]))
            continue
        row["selected"] = quantity
        if quantity:
            picked.append((row, quantity))
    if not context["errors"] and not picked:
        context["errors"].append(("items", _("Choose at least one item to return.")))
    if context["errors"]:
        return page(request, "portal/items.html", merchant, context, status=422)
    before = {line["line_id"]: line for line in draft["lines"]}
    draft["lines"] = [
        {
            **(before.get(row["line_id"]) or draft_line(row["line_id"], row["n"], quantity)),
            "n": row["n"],
            "quantity": quantity,
        }
        for row, quantity in picked
    ]
    draft_save(request, draft)
    return redirect(reverse("portal:reasons", args=[merchant.slug]))


def _gift_unavailable(merchant: Merchant) -> str:
    return _(
        "Gifts are returned for store credit, which %(merchant)s doesn't offer online. "
        "Please contact %(merchant)s to return this gift."
    ) % {"merchant": merchant.name}


# ----------------------------------------------------------------------------------------------
# Step 3: reasons, comments, photos

# One submit of the reasons page: a few photos at full size. Django streams files to disk
# whatever their size, so the page refuses a larger body before reading it.
MAX_SUBMIT_BYTES = 4 * MAX_UPLOAD_BYTES


def too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_SUBMIT_BYTES
    except ValueError:
        return True


@shopper_step
def reasons(request: HttpRequest, merchant: Merchant, found: Found) -> HttpResponse:
    """Step 3: a reason per item, an optional comment, and photos where the reason needs them."""
    draft = draft_of(request, found)
    if not draft["lines"]:
        return redirect(reverse("portal:order", args=[merchant.slug]))
    names = {key: line.name for key, line in draft_items(request, found, draft).items()}
    policy = policy_of(merchant)
    by_code = {reason.code: reason for reason in policy.reasons}
    errors: dict[int, dict[str, str]] = {}
    general: list[str] = []

    if request.method == "POST" and too_large(request):
        general.append(
            _("The photos are too large together. Send at most %(mb)d MB at a time.")
            % {"mb": MAX_SUBMIT_BYTES // 2**20}
        )
    elif request.method == "POST":
        actor = shopper(gift=found.gift)
        for line in draft["lines"]:
            n = int(line["n"])
            mine = errors.setdefault(n, {})
            reason = request.POST.get(f"reason-{n}", "")
            line["reason"] = reason if reason in by_code else ""
            line["comment"] = request.POST.get(f"comment-{n}", "").strip()[:2000]
            if request.POST.get(f"remove-photos-{n}"):
                line["photos"] = []
            for upload in request.FILES.getlist(f"photos-{n}"):
                if len(line["photos"]) >= MAX_PHOTOS:
                    mine["photos"] = _("Add at most %(most)d photos per item.") % {
                        "most": MAX_PHOTOS
                    }
                    break
                stored, problem = image_upload(
                    actor=actor, merchant=merchant, upload=upload, purpose="photo"
                )
                if problem:
                    mine["photos"] = problem
                    continue
                line["photos"].append(stored)
            if not line["reason"]:
                mine["reason"] = _("Choose a reason for returning this item.")
            elif (
                by_code[line["reason"]].photo_required
                and not line["photos"]
                and "photos" not in mine
            ):
                mine["photos"] = _("Add a photo: it's needed for “%(reason)s”.") % {
                    "reason": by_code[line["reason"]].label
                }
        draft_save(request, draft)  # photos that passed are kept, whatever else failed
        errors = {n: mine for n, mine in errors.items() if mine}
        if not errors:
            # The services have the last word on the reasons and photos.
            try:
                check(request, merchant, found, draft, resolution=offered(found, policy)[0])
            except ValidationFailed as exc:
                by_line, general = line_errors(exc, draft)
                for n, message in by_line.items():
                    errors.setdefault(n, {})["reason"] = message
            else:
                return redirect(reverse("portal:resolution", args=[merchant.slug]))

    rows = [
        {
            "n": line["n"],
            "name": names.get(line["line_id"], line["line_id"]),
            "quantity": line["quantity"],
            "reason": line["reason"],
            "comment": line["comment"],
            "photos": len(line["photos"]),
            "errors": errors.get(int(line["n"]), {}),
        }
        for line in draft["lines"]
    ]
    summary = [
        (f"{field}-{n}", message)
        for n, mine in sorted(errors.items())
        for field, message in mine.items()
    ] + [("reasons", message) for message in general]
    context = {
        "rows": rows,
        "reasons": policy.reasons,
        "photo_reasons": [r.label for r in policy.reasons if r.photo_required],
        "max_mb": MAX_UPLOAD_BYTES // 2**20,
        "errors": summary,
        "step": 3,
    }
    return page(request, "portal/reasons.html", merchant, context, status=422 if summary else 200)


# ----------------------------------------------------------------------------------------------
# Step 4: the resolution


def reasons_done(draft: dict[str, Any]) -> bool:
    return bool(draft["lines"]) and all(line["reason"] for line in draft["lines"])


@shopper_step
def resolution(request: HttpRequest, merchant: Merchant, found: Found) -> HttpResponse:
    """Step 4: refund, store credit (with its bonus) or exchange, as the policy allows; a gift
    gets store credit, at the recipient's own e-mail."""
    draft = draft_of(request, found)
    if not reasons_done(draft):
        return redirect(reverse("portal:reasons", args=[merchant.slug]))
    by_id = draft_items(request, found, draft)
    policy = policy_of(merchant)
    codes = offered(found, policy)
    if not codes:
        return _unavailable(request, merchant, _gift_unavailable(merchant))
    options = []
    try:
        for code in codes:
            decision = check(request, merchant, found, draft, resolution=code)["decision"]
            estimate, bonus = decision["refund_estimate"], decision["store_credit_bonus"]
            options.append(
                {
                    "code": code,
                    "label": present.RESOLUTION_TEXT[code],
                    "estimate": present.money(merchant, estimate, decision["currency"]),
                    "bonus": present.money(merchant, bonus, decision["currency"]) if bonus else "",
                    "total": present.money(merchant, estimate + bonus, decision["currency"]),
                }
            )
    except ValidationFailed:
        return redirect(reverse("portal:reasons", args=[merchant.slug]))
    exchanges = []
    if "exchange" in codes:
        for line in draft["lines"]:
            order_line = by_id.get(line["line_id"])
            if order_line is None:
                continue
            exchanges.append(
                {
                    "n": line["n"],
                    "name": order_line.name,
                    "choices": [
                        (p.sku, p.name)
                        for p in exchange_options(merchant=merchant, line=order_line)
                    ],
                    "selected": line["exchange_sku"],
                    "error": "",
                }
            )
    chosen = draft["resolution"] if draft["resolution"] in codes else ""
    if len(codes) == 1:
        chosen = codes[0]
    context: dict[str, Any] = {
        "options": options,
        "chosen": chosen,
        "exchanges": exchanges,
        "gift": found.gift,
        "recipient_email": draft.get("recipient_email", ""),
        "errors": [],
        "email_error": "",
        "step": 4,
    }
    if request.method != "POST":
        return page(request, "portal/resolution.html", merchant, context)

    chosen = request.POST.get("resolution", "")
    context["chosen"] = chosen
    if chosen not in codes:
        context["errors"].append(("resolution-" + codes[0], _("Choose what you'd like back.")))
    if chosen == "exchange":
        for row in exchanges:
            sku = request.POST.get(f"exchange-{row['n']}", "")
            row["selected"] = sku
            if sku not in {choice[0] for choice in row["choices"]}:
                row["error"] = _("Choose what you'd like instead of this item.")
                context["errors"].append((f"exchange-{row['n']}", row["error"]))
    recipient = ""
    if found.gift:
        recipient = request.POST.get("recipient_email", "").strip()
        context["recipient_email"] = recipient
        try:
            validate_email(recipient)
        except ValidationError:
            context["email_error"] = _(
                "Enter your e-mail address, like name@example.com: your store credit goes there."
            )
            context["errors"].append(("recipient_email", context["email_error"]))
    if context["errors"]:
        return page(request, "portal/resolution.html", merchant, context, status=422)
    picked = {row["n"]: row["selected"] for row in exchanges}
    for line in draft["lines"]:
        line["exchange_sku"] = picked.get(line["n"], "") if chosen == "exchange" else ""
    draft["resolution"] = chosen
    draft["recipient_email"] = recipient
    draft_save(request, draft)
    return redirect(reverse("portal:review", args=[merchant.slug]))
