"""Step 2 on a receipt: the items, chosen from the merchant's catalogue (by SKU or name) since
there is no order to choose from. The services price them at catalogue prices and send the
return to review; from the reasons on, the steps are the order's own."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from returndesk.catalog.models import Product
from returndesk.catalog.selectors import product_get, product_search
from returndesk.core.errors import NotFound
from returndesk.portal import present
from returndesk.portal.state import Found, draft_line, draft_of, draft_save
from returndesk.portal.views.common import page
from returndesk.portal.views.flow import draft_items, shopper_step
from returndesk.tenants.models import Merchant

MAX_UNITS = 10  # of one product on one receipt return


def _result(merchant: Merchant, product: Product) -> dict[str, str]:
    return {
        "sku": product.sku,
        "name": product.name,
        "price": present.money(merchant, product.price_amount, product.currency),
    }


@shopper_step
def items(request: HttpRequest, merchant: Merchant, found: Found) -> HttpResponse:
    """Search the catalogue, add the items on the receipt, say how many of each."""
    if not found.receipt:
        return redirect(reverse("portal:order", args=[merchant.slug]))
    source = request.POST if request.method == "POST" else request.GET
    query = source.get("q", "").strip()[:100]
    context: dict[str, Any] = {
        "query": query,
        "results": [_result(merchant, p) for p in product_search(merchant=merchant, query=query)],
        "choices": list(range(1, MAX_UNITS + 1)),
        "errors": [],
        "step": 2,
    }
    if request.method != "POST" and request.htmx:  # type: ignore[attr-defined]
        return page(request, "portal/_product_results.html", merchant, context)
    draft = draft_of(request, found)
    lines = list(draft["lines"])
    line_errors: dict[int, str] = {}
    if request.method == "POST":
        for line in lines:
            raw = request.POST.get(f"qty-{line['n']}", str(line["quantity"]))
            quantity = int(raw) if raw.isdigit() else 0
            if not 1 <= quantity <= MAX_UNITS:
                line_errors[line["n"]] = _("Choose a number from 1 to %(most)d.") % {
                    "most": MAX_UNITS
                }
                continue
            line["quantity"] = quantity
        removed = request.POST.get("remove", "")
        added = request.POST.get("add", "").strip()
        if removed:
            lines = [line for line in lines if str(line["n"]) != removed]
        elif added:
            try:
                product = product_get(merchant=merchant, sku=added)
            except NotFound:
                context["errors"].append(
                    ("q", _("We don't sell an item with SKU “%(sku)s”.") % {"sku": added[:64]})
                )
            else:
                same = next((line for line in lines if line["sku"] == product.sku), None)
                if same is None:
                    lines.append(draft_line("", 0, 1, sku=product.sku))
                else:
                    same["quantity"] = min(int(same["quantity"]) + 1, MAX_UNITS)
        # The services number a receipt's lines R1, R2... in order: so do the steps.
        for n, line in enumerate(lines, start=1):
            line["n"], line["line_id"] = n, f"R{n}"
        draft["lines"] = lines
        draft_save(request, draft)
        context["errors"] += [(f"qty-{n}", message) for n, message in line_errors.items()]
        if request.POST.get("action") == "continue" and not context["errors"]:
            if lines:
                return redirect(reverse("portal:reasons", args=[merchant.slug]))
            context["errors"].append(("q", _("Add at least one item from your receipt.")))
        if not context["errors"]:
            target = reverse("portal:receipt_items", args=[merchant.slug])
            return redirect(f"{target}?{urlencode({'q': query})}" if query else target)
    stand_ins = draft_items(request, found, draft)
    context["rows"] = []
    for line in lines:
        item = stand_ins.get(line["line_id"])
        context["rows"].append(
            {
                "n": line["n"],
                "sku": line["sku"],
                "name": item.name if item else line["sku"],
                "price": present.money(merchant, item.unit_price_amount, item.currency)
                if item
                else "",
                "selected": int(line["quantity"]),
                "error": line_errors.get(line["n"], ""),
            }
        )
    status = 422 if context["errors"] else 200
    return page(request, "portal/receipt_items.html", merchant, context, status=status)
