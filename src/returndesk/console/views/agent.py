"""Agent-created returns: find the customer's order, choose lines, see what the policy says,
override it with a reason where the role allows, and create the return."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from returndesk.catalog.models import Order, OrderLine, Product
from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.core.codes import format_ran
from returndesk.core.errors import ApplicationError, ValidationFailed
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import upload_create
from returndesk.policies.document import PolicyDocument
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_document
from returndesk.returns.inputs import ReturnInput, ReturnLineInput
from returndesk.returns.selectors import OrderNotFound, order_for_staff, order_lines_open
from returndesk.returns.services import eligibility_check, return_create
from returndesk.tenants import permissions as perm

# The channels an agent records; the portal, the API and imports record their own.
AGENT_CHANNELS = (
    ("phone", "Phone"),
    ("email", "E-mail"),
    ("chat", "Chat"),
    ("in_store", "In store"),
)
RECEIPT_ROWS = 5  # products on one receipt return made by an agent
RESOLUTION_LABELS = {"refund": "Refund", "store_credit": "Store credit", "exchange": "Exchange"}
OUTCOMES = {
    "authorized": "The policy authorizes this return.",
    "pending_review": "The policy sends this return to review.",
    "rejected": "The policy refuses this return.",
}


@console_page(perm.RETURNS_CREATE)
def return_new(request: HttpRequest, seat: Seat) -> HttpResponse:
    """One page in two steps: the lookup (GET), then lines, resolution and channel (POST),
    checked against the policy before the return is created. Where the policy accepts
    receipts and the order is not in the system, a return on the customer's receipt instead."""
    source = request.POST if request.method == "POST" else request.GET
    lookup = {key: source.get(key, "").strip() for key in ("order_number", "email", "postal_code")}
    context: dict[str, Any] = {
        "lookup": lookup,
        "errors": {},
        "channels": [(code, _(label)) for code, label in AGENT_CHANNELS],
        "can_override": seat.can(perm.RETURNS_OVERRIDE),
    }
    if "order_number" not in source:
        return _render(request, seat, context)
    if not lookup["order_number"]:
        context["errors"]["order_number"] = _("Enter the order number.")
        return _render(request, seat, context, status=422)
    with merchant_scope(seat.merchant):
        policy = policy_document(policy_current(merchant=seat.merchant))
        receipts = policy.proof_of_purchase == "order_or_receipt"
        if source.get("mode") == "receipt" and receipts:
            return _receipt_return(request, seat, context, policy)
        try:
            order = order_for_staff(merchant=seat.merchant, **lookup)
        except OrderNotFound as exc:
            context["errors"]["order_number"] = exc.detail
            context["receipt_offer"] = receipts
            return _render(request, seat, context, status=404)
        lines = order_lines_open(order=order)
        context.update(_order_context(order, lines, policy))
        if request.method != "POST":
            return _render(request, seat, context)
        form = _parse(request, lines, policy)
        context["form"] = form
        if form["errors"]:
            context["errors"].update(form["errors"])
            return _render(request, seat, context, status=422)
        data = ReturnInput(
            order_number=order.order_number,
            email=lookup["email"] or order.email,
            lines=form["lines"],
            resolution=form["resolution"],
            channel=form["channel"],
            note=form["note"],
        )
        return _submit(request, seat, context, data, form)


def _receipt_return(
    request: HttpRequest, seat: Seat, context: dict[str, Any], policy: PolicyDocument
) -> HttpResponse:
    """A return on the customer's receipt: products by SKU at catalogue prices, the receipt
    kept for the reviewer. The policy always sends it to review, and no override skips that."""
    context.update(_order_context(None, [], policy))
    context["receipt_mode"] = True
    context["receipt_rows"] = RECEIPT_ROWS
    if request.method != "POST":
        return _render(request, seat, context)
    form = _parse_receipt(request, seat)
    context["form"] = form
    if form["errors"]:
        context["errors"].update(form["errors"])
        return _render(request, seat, context, status=422)
    data = ReturnInput(
        order_number=context["lookup"]["order_number"],
        email=form["email"],
        proof_of_purchase_upload_id=form["receipt"],
        lines=form["lines"],
        resolution=form["resolution"],
        channel=form["channel"],
        note=form["note"],
    )
    products = Product.objects.filter(
        merchant=seat.merchant, sku__in={line.sku for line in form["lines"]}
    )
    by_sku = {product.sku: product for product in products}
    # The services number a receipt's lines R1, R2... in the order given.
    context["items"] = {
        f"R{n}": by_sku.get(line.sku) for n, line in enumerate(form["lines"], start=1)
    }
    return _submit(request, seat, context, data, form)


def _submit(
    request: HttpRequest,
    seat: Seat,
    context: dict[str, Any],
    data: ReturnInput,
    form: dict[str, Any],
) -> HttpResponse:
    """Check the request with the policy, or (action "create") create the return."""
    try:
        if request.POST.get("action") == "create":
            ret = return_create(
                actor=seat.actor,
                merchant=seat.merchant,
                data=data,
                override_reason=form["override_reason"] if form["override"] else None,
            )
            ran = format_ran(ret.ran)
            messages.success(
                request,
                _("Return %(ran)s created (%(status)s).") % {"ran": ran, "status": ret.status},
            )
            return HttpResponseRedirect(reverse("console:return", args=[seat.merchant.slug, ran]))
        context["check"] = _check_context(
            eligibility_check(merchant=seat.merchant, data=data), form["index"], context
        )
    except ValidationFailed as exc:
        context["errors"].update(_field_errors(exc, form["index"]))
        context["error"] = exc.detail
        return _render(request, seat, context, status=422)
    except ApplicationError as exc:
        context["error"] = exc.detail
        return _render(request, seat, context, status=exc.status)
    return _render(request, seat, context)


def _render(
    request: HttpRequest, seat: Seat, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    values = context.get("form", {}).get("values", {})
    errors = context["errors"]
    context["rows"] = [
        {
            "i": i,
            "line": line,
            "open": open_units,
            "quantity": values.get(f"quantity-{i}", "0"),
            "reason": values.get(f"reason-{i}", ""),
            "quantity_error": errors.get(f"quantity-{i}", ""),
            "reason_error": errors.get(f"reason-{i}", ""),
        }
        for i, line, open_units in context.get("lines", [])
    ]
    context["sku_rows"] = [
        {
            "i": i,
            "sku": values.get(f"sku-{i}", ""),
            "quantity": values.get(f"quantity-{i}", "1"),
            "reason": values.get(f"reason-{i}", ""),
            "sku_error": errors.get(f"sku-{i}", ""),
            "quantity_error": errors.get(f"quantity-{i}", ""),
            "reason_error": errors.get(f"reason-{i}", ""),
        }
        for i in range(context.get("receipt_rows", 0))
    ]
    return render(request, "console/return_new.html", page_context(seat, **context), status=status)


def _order_context(
    order: Order | None, lines: list[tuple[OrderLine, int]], policy: PolicyDocument
) -> dict[str, Any]:
    return {
        "order": order,
        "lines": [(i, line, open_units) for i, (line, open_units) in enumerate(lines)],
        "reasons": [(r.code, r.label) for r in policy.reasons],
        "resolutions": [
            (code, _(RESOLUTION_LABELS[code])) for code in policy.resolutions.offered()
        ],
    }


def _parse(
    request: HttpRequest, lines: list[tuple[OrderLine, int]], policy: PolicyDocument
) -> dict[str, Any]:
    """The submitted form as the service's input, or the errors to show next to each field.
    `index` maps the request's line positions back to the order's, for the service's errors."""
    post = request.POST
    form = _parse_common(request)
    errors, values = form["errors"], form["values"]
    chosen: list[ReturnLineInput] = []
    for i, (line, _open) in enumerate(lines):
        quantity, reason = _parse_units(post, i, errors, values)
        if quantity:
            chosen.append(ReturnLineInput(line_id=line.line_id, quantity=quantity, reason=reason))
            form["index"].append(i)
    if not chosen and not errors:
        errors["lines"] = _("Choose at least one line: give the units to return.")
    form["lines"] = tuple(chosen)
    return form


def _parse_receipt(request: HttpRequest, seat: Seat) -> dict[str, Any]:
    """A receipt return's form: the customer's e-mail, the receipt (uploaded now, or on an
    earlier check), and a SKU, units and reason per row."""
    post = request.POST
    form = _parse_common(request)
    errors, values = form["errors"], form["values"]
    form["email"] = post.get("receipt_email", "").strip()
    if not form["email"]:
        errors["receipt_email"] = _("Enter the customer's e-mail: the return is theirs.")
    form["receipt"] = post.get("receipt_upload_id", "").strip()
    upload = request.FILES.get("receipt")
    if upload is not None:
        try:
            form["receipt"] = upload_create(
                actor=seat.actor,
                merchant_id=seat.merchant.pk,
                data=upload.read(),
                purpose="receipt",
            ).public_id
        except ValidationFailed as exc:
            form["receipt"] = ""
            errors["receipt"] = exc.errors[0].message if exc.errors else exc.detail
    elif not form["receipt"]:
        errors["receipt"] = _("Add a photo or scan of the customer's receipt.")
    chosen: list[ReturnLineInput] = []
    for i in range(RECEIPT_ROWS):
        sku = post.get(f"sku-{i}", "").strip()
        values[f"sku-{i}"] = sku
        if not sku:  # a row left empty
            values[f"quantity-{i}"], values[f"reason-{i}"] = "1", post.get(f"reason-{i}", "")
            continue
        quantity, reason = _parse_units(post, i, errors, values)
        if not quantity and f"quantity-{i}" not in errors:
            errors[f"quantity-{i}"] = _("Give the units to return.")
        if quantity:
            chosen.append(ReturnLineInput(line_id="", sku=sku, quantity=quantity, reason=reason))
            form["index"].append(i)
    if not chosen and not errors:
        errors["lines"] = _("Give at least one product: its SKU, the units and the reason.")
    form["lines"] = tuple(chosen)
    form["override"] = False  # a receipt return goes to review, whatever the role
    return form


def _parse_units(
    post: Any, i: int, errors: dict[str, str], values: dict[str, str]
) -> tuple[int, str]:
    """Row i's units and reason: (0, "") when it is left out or wrong (then with its error)."""
    raw = post.get(f"quantity-{i}", "").strip() or "0"
    reason = post.get(f"reason-{i}", "")
    values[f"quantity-{i}"], values[f"reason-{i}"] = raw, reason
    if not raw.isdigit():
        errors[f"quantity-{i}"] = _("Enter a whole number of units (0 to leave it out).")
        return 0, ""
    if int(raw) == 0:
        return 0, ""
    if not reason:
        errors[f"reason-{i}"] = _("Choose the customer's reason.")
        return 0, ""
    return int(raw), reason


def _parse_common(request: HttpRequest) -> dict[str, Any]:
    """The fields every agent return has: resolution, channel, note and override."""
    post = request.POST
    errors: dict[str, str] = {}
    channel = post.get("channel", "")
    if channel not in {code for code, _label in AGENT_CHANNELS}:
        errors["channel"] = _("Choose how the customer reached you.")
    override = post.get("override") == "on"
    override_reason = post.get("override_reason", "").strip()
    if override and not override_reason:
        errors["override_reason"] = _("Say why you override the policy: it goes on the timeline.")
    return {
        "lines": (),
        "index": [],
        "values": {},
        "resolution": post.get("resolution", ""),
        "channel": channel,
        "note": post.get("note", "").strip(),
        "override": override,
        "override_reason": override_reason,
        "errors": errors,
    }


def _field_errors(exc: ValidationFailed, index: list[int]) -> dict[str, str]:
    """The service's field paths ("lines[1].reason") as this form's field names."""
    found: dict[str, str] = {}
    for error in exc.errors:
        name = error.field
        if name.startswith("lines[") and "]." in name:
            position, _sep, attribute = name[len("lines[") :].partition("].")
            if position.isdigit() and int(position) < len(index):
                # a photo is asked for by the reason: say so next to the reason
                field = "reason" if attribute in ("reason", "photo_upload_ids") else "quantity"
                field = "sku" if attribute == "sku" else field
                name = f"{field}-{index[int(position)]}"
        else:  # a receipt return's own fields
            name = {"proof_of_purchase_upload_id": "receipt", "email": "receipt_email"}.get(
                name, name
            )
        found.setdefault(name, error.message)
    return found


def _check_context(
    check: dict[str, Any], index: list[int], context: dict[str, Any]
) -> dict[str, Any]:
    """What the policy says, line by line, in the order's words."""
    decision = check["decision"]
    by_id = context.get("items") or {line.line_id: line for _i, line, _open in context["lines"]}
    return {
        "outcome": decision["outcome"],
        "outcome_text": _(OUTCOMES[decision["outcome"]]),
        "verdicts": [(by_id.get(v["line_id"]), v) for v in decision["verdicts"]],
        "review_clauses": decision["review_clauses"],
        "fees": decision["fees"],
        "refund_estimate": decision["refund_estimate"],
        "store_credit_bonus": decision["store_credit_bonus"],
        "currency": decision["currency"],
        "refund_timing": decision["refund_timing"],
        "policy_version": check["policy_version"],
        "risk": check["risk"],
        "blocked": decision["outcome"] != "authorized"
        or any(v["allowed_quantity"] < v["requested_quantity"] for v in decision["verdicts"]),
    }


urlpatterns = [
    path("m/<slug:slug>/new-return/", return_new, name="return_new"),
]
