"""Reads for shipping: a merchant's carrier settings, the facility a return goes to, a return's
label and what is printed on it."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order, Product
from returndesk.core.codes import format_ran
from returndesk.core.errors import Conflict, NotFound
from returndesk.policies.services import policy_document
from returndesk.returns.models import Return
from returndesk.shipping.carriers.base import Address
from returndesk.shipping.labels import LabelDocument, PackingItem
from returndesk.shipping.models import (
    ACTIVE,
    MODE_DROPOFF,
    WEBHOOK_STATES,
    CarrierSettings,
    CarrierWebhook,
    FacilityRoute,
    Label,
)
from returndesk.tenants.models import Facility, Merchant

# A product without a recorded weight counts this much per unit on the label.
DEFAULT_UNIT_WEIGHT_GRAMS = 500


class NoFacility(Conflict):
    code = "no_facility"
    title = "No facility for this return"


def carrier_settings_for(*, merchant: Merchant) -> CarrierSettings:
    """The merchant's settings; unsaved defaults (the provider's prepaid label) without a row."""
    found = CarrierSettings.objects.filter(merchant=merchant).first()
    if found is not None:
        return found
    return CarrierSettings(merchant=merchant, carriers=["prepaid"], currency=merchant.currency)


def facility_for(*, merchant: Merchant, country: str, region: str) -> Facility:
    """The merchant's routing for a shopper's country and region: the most specific route to a
    facility that serves the merchant; without a matching route, a serving facility in the
    shopper's country, then any serving facility."""
    serving = {f.pk: f for f in Facility.objects.filter(merchants=merchant).order_by("code")}
    if not serving:
        raise NoFacility(
            f"No facility serves {merchant.name}; the provider must assign one before labels."
        )
    country, region = country.strip().upper(), region.strip().upper()
    best: tuple[int, int, int] | None = None
    chosen: Facility | None = None
    for route in FacilityRoute.objects.filter(merchant=merchant):
        if route.facility_id not in serving:
            continue
        if route.country and route.country.upper() != country:
            continue
        if route.region and route.region.strip().upper() != region:
            continue
        rank = (-(bool(route.country) + bool(route.region)), route.priority, route.pk)
        if best is None or rank < best:
            best, chosen = rank, serving[route.facility_id]
    if chosen is not None:
        return chosen
    same_country = [f for f in serving.values() if f.country.upper() == country]
    return (same_country or list(serving.values()))[0]


def shopper_address(ret: Return) -> Address:
    """Where the parcel comes from: the order's shipping address (a return on a receipt has
    only the shopper's e-mail)."""
    order: Order | None = ret.order
    customer = ret.customer
    if order is None:
        return Address(
            name=customer.name if customer and customer.name else ret.email,
            line1="",
            city="",
            postal_code="",
            country="",
            email=ret.email,
        )
    return Address(
        name=order.ship_name or (customer.name if customer else "") or ret.email,
        line1=order.ship_line1,
        line2=order.ship_line2,
        city=order.ship_city,
        region=order.ship_region,
        postal_code=order.ship_postal_code,
        country=order.ship_country,
        phone=customer.phone if customer else "",
        email=ret.email,
    )


def facility_address(facility: Facility, merchant: Merchant) -> Address:
    return Address(
        name=f"{merchant.name} Returns",
        company=f"c/o {facility.name} ({facility.code})",
        line1=facility.line1,
        line2=facility.line2,
        city=facility.city,
        region=facility.region,
        postal_code=facility.postal_code,
        country=facility.country,
    )


def return_products(ret: Return) -> dict[str, Product]:
    skus = {line.sku for line in ret.lines.all() if line.sku}
    return {p.sku: p for p in Product.objects.filter(merchant_id=ret.merchant_id, sku__in=skus)}


def return_weight_grams(ret: Return, products: dict[str, Product]) -> int:
    total = 0
    for line in ret.lines.all():
        product = products.get(line.sku)
        unit = product.weight_grams if product and product.weight_grams else None
        total += (unit or DEFAULT_UNIT_WEIGHT_GRAMS) * line.quantity
    return max(total, 1)


def label_for_return(*, ret: Return) -> Label:
    """The return's active label (or drop-off code); 404 when it has none."""
    label = (
        Label.objects.filter(return_request=ret, status=ACTIVE).select_related("facility").first()
    )
    if label is None:
        raise NotFound(
            f"Return {format_ran(ret.ran)} has no label yet; POST /returns/{{ran}}/label issues it."
        )
    return label


def active_label(*, ret: Return) -> Label | None:
    """The return's active label, or None."""
    return (
        Label.objects.filter(return_request=ret, status=ACTIVE).select_related("facility").first()
    )


def labels_of_return(*, ret: Return) -> list[Label]:
    """Every label the return has had, newest first (voided ones included)."""
    return list(Label.objects.filter(return_request=ret).order_by("-created_at", "-id"))


def label_find_by_code(*, code: str) -> Label | None:
    """An active label by tracking number or drop-off code, across merchants: what a receiving
    scan tries before reading the code as a RAN (API.md, POST /receipts)."""
    text = code.strip().upper()
    compact = text.replace("-", "").replace(" ", "")
    if not compact:
        return None
    with scopes_disabled():
        active = Label.objects.filter(status=ACTIVE).select_related("return_request")
        return (
            active.filter(tracking_number__in=[text, compact]).first()
            or active.filter(dropoff_code=compact).first()
        )


def label_document(*, label: Label) -> LabelDocument:
    """Everything printed on the label and its packing slip."""
    ret = label.return_request
    merchant = ret.merchant
    products = return_products(ret)
    condition = ""
    if ret.policy_version is not None:
        condition = policy_document(ret.policy_version).condition_required
    items = []
    for line in ret.lines.all():
        product = products.get(line.sku)
        accessories = tuple(a.get("name", "") for a in (product.accessories if product else []))
        items.append(
            PackingItem(
                sku=line.sku,
                name=line.name or (product.name if product else line.sku),
                quantity=line.quantity,
                reason=line.reason,
                accessories=tuple(a for a in accessories if a),
                instructions=product.packing_instructions if product else "",
            )
        )
    return LabelDocument(
        ran=ret.ran,
        merchant_name=merchant.name,
        order_number=ret.order.order_number if ret.order else ret.claimed_order_number,
        ship_from=tuple(label.ship_from.get("lines", [])),
        ship_to=tuple(label.ship_to.get("lines", [])),
        facility_code=label.facility.code,
        carrier=label.carrier,
        service=label.service,
        tracking_number=label.tracking_number,
        dropoff_code=label.dropoff_code if label.kind == MODE_DROPOFF else "",
        weight_grams=label.weight_grams,
        created_at=label.created_at,
        condition_required=condition,
        items=tuple(items),
    )


def facilities_serving(*, merchant: Merchant) -> list[Facility]:
    """The facilities a merchant's routes may send returns to, by code."""
    return list(Facility.objects.filter(merchants=merchant).order_by("code"))


def facility_routes_list(*, merchant: Merchant) -> list[FacilityRoute]:
    """The merchant's routes as they are weighed: country, region, then priority."""
    return list(
        FacilityRoute.objects.filter(merchant=merchant)
        .select_related("facility")
        .order_by("country", "region", "priority", "id")
    )


def carrier_webhook_counts(*, carrier: str = "") -> dict[str, int]:
    """How many stored carrier webhooks (of one carrier, when given) are in each state, every
    state included."""
    found = CarrierWebhook.objects.all()
    if carrier:
        found = found.filter(carrier=carrier)
    counted = dict(
        found.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    return {state: counted.get(state, 0) for state in WEBHOOK_STATES}


def carrier_webhooks_list(*, carrier: str = "", state: str = "") -> QuerySet[CarrierWebhook]:
    """Stored carrier webhooks, newest first, without their bodies (a list never shows them)."""
    found = CarrierWebhook.objects.select_related("merchant").defer("body", "headers")
    if carrier:
        found = found.filter(carrier=carrier)
    if state:
        found = found.filter(state=state)
    return found.order_by("-created_at", "-pk")


def carrier_webhook_get(*, public_id: str) -> CarrierWebhook:
    found = CarrierWebhook.objects.select_related("merchant", "label__return_request").filter(
        public_id=public_id
    )
    webhook = found.first()
    if webhook is None:
        raise NotFound(f"No carrier webhook '{public_id}'.")
    return webhook
