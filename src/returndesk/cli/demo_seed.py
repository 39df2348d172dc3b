"""The demo's data: the provider, a facility, two merchants, a user per role and two keys.

Everything goes through the services, as a real set-up would. Seeding is idempotent: a second
run finds what the first made and leaves it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from returndesk.catalog.importing.runner import import_orders
from returndesk.catalog.inputs import (
    AccessoryInput,
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    ProductInput,
    TenderInput,
)
from returndesk.catalog.services import order_total, orders_upsert, products_upsert
from returndesk.core.actors import Actor
from returndesk.core.money import Money
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.historical import historical_returns_import
from returndesk.tenants.models import Facility, Merchant, Provider, User
from returndesk.tenants.services import (
    apikey_create,
    facility_create,
    membership_grant,
    merchant_create,
    user_create,
)

ACTOR = Actor.system("demo seed")
PASSWORD = "returndesk-demo"  # noqa: S105 - the demo's published login, printed at start
ONLINE_RETAIL = "online_retail.csv.gz"


@dataclass
class DemoReport:
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)


def online_retail_file() -> Path:
    return Path(settings.RETURNDESK_DATA_DIR) / "online-retail" / ONLINE_RETAIL


USD = "USD"
ELECTRONICS = [
    # sku, name, category, price (cents), serialized, accessories, weight
    (
        "NW-PHONE-X1",
        "Northwind X1 Phone 128 GB",
        "electronics",
        69900,
        True,
        [("charger", "USB-C charger", 1900), ("cable", "USB-C cable", 900)],
        420,
    ),
    (
        "NW-EARBUDS",
        "Northwind Buds Pro",
        "electronics",
        14900,
        True,
        [("case", "Charging case", 4900), ("tips", "Ear tips (3 sizes)", 500)],
        120,
    ),
    (
        "NW-LAPTOP-14",
        'Northwind Air 14" Laptop',
        "electronics",
        129900,
        True,
        [("charger", "65 W charger", 4900)],
        1600,
    ),
    (
        "NW-WATCH-2",
        "Northwind Watch 2",
        "electronics",
        24900,
        True,
        [("strap", "Sport strap", 2900), ("dock", "Charging dock", 2500)],
        150,
    ),
    ("NW-SPEAKER", "Northwind Go Speaker", "electronics", 7900, False, [], 600),
]
APPAREL = [
    ("NW-TEE-M-BLK", "Organic Tee, Black, M", "apparel", 2500),
    ("NW-TEE-L-BLK", "Organic Tee, Black, L", "apparel", 2500),
    ("NW-JACKET-M", "Rain Jacket, Navy, M", "apparel", 12900),
    ("NW-JEANS-32", "Straight Jeans, 32/32", "apparel", 7900),
    ("NW-SNEAKER-42", "Court Sneaker, EU 42", "footwear", 9900),
    ("NW-SOCKS-3", "Merino Socks, 3 pairs", "underwear", 1900),
]
CUSTOMERS = [
    (
        "ada.lovelace@example.com",
        "Ada Lovelace",
        "+1 212 555 0101",
        ("Ada Lovelace", "12 W 31st St", "Apt 4", "New York", "NY", "10001", "US"),
    ),
    (
        "grace.hopper@example.com",
        "Grace Hopper",
        "+1 617 555 0134",
        ("Grace Hopper", "1 Broadway", "", "Cambridge", "MA", "02142", "US"),
    ),
    (
        "alan.turing@example.co.uk",
        "Alan Turing",
        "+44 20 7946 0018",
        ("Alan Turing", "221 Baker St", "", "London", "", "NW1 6XE", "GB"),
    ),
    (
        "katherine.johnson@example.com",
        "Katherine Johnson",
        "+1 757 555 0199",
        ("Katherine Johnson", "400 Main St", "", "Hampton", "VA", "23669", "US"),
    ),
    (
        "marie.curie@example.fr",
        "Marie Curie",
        "+33 1 55 55 01 01",
        ("Marie Curie", "11 Rue Pierre et Marie Curie", "", "Paris", "", "75005", "FR"),
    ),
]


def _northwind_products() -> list[ProductInput]:
    products = [
        ProductInput(
            sku=sku,
            name=name,
            category=category,
            price=Money(price, USD),
            accessories=tuple(AccessoryInput(c, n, Money(v, USD)) for c, n, v in accessories),
            packing_instructions=(
                "Switch the device off and sign out of your account. Pack it with every "
                "accessory listed, the manual and the original box, inside a padded shipping box."
            ),
            resale_value=Money(price * 70 // 100, USD),
            refurbish_cost=Money(price * 8 // 100, USD),
            repair_cost=Money(price * 15 // 100, USD),
            weight_grams=weight,
            serialized=serialized,
            hazardous=sku == "NW-LAPTOP-14",  # lithium battery
        )
        for sku, name, category, price, serialized, accessories, weight in ELECTRONICS
    ]
    products += [
        ProductInput(
            sku=sku,
            name=name,
            category=category,
            price=Money(price, USD),
            packing_instructions="Fold the item with its tags attached; unworn and unwashed.",
            final_sale=category == "underwear",
            returnable=category != "underwear",
            resale_value=Money(price * 60 // 100, USD),
            weight_grams=400,
        )
        for sku, name, category, price in APPAREL
    ]
    return products


def _northwind_orders(today: date) -> list[OrderInput]:
    rng = random.Random(20261126)  # the same demo every time
    catalogue = {p.sku: p for p in _northwind_products()}
    skus = list(catalogue)
    orders = []
    for n in range(40):
        email, name, phone, address = CUSTOMERS[n % len(CUSTOMERS)]
        placed = datetime.combine(today - timedelta(days=2 + n), datetime.min.time()).replace(
            hour=9 + n % 10, tzinfo=timezone.get_fixed_timezone(-300)
        )
        picked = rng.sample(skus, k=1 + n % 3)
        lines = []
        for i, sku in enumerate(picked, start=1):
            product = catalogue[sku]
            quantity = 1 if product.serialized else 1 + rng.randrange(2)
            serials = (
                tuple(f"SN{n:03d}{i}{u}{rng.randrange(10**6):06d}" for u in range(quantity))
                if product.serialized
                else ()
            )
            tax = product.price.amount * quantity * 8875 // 100000  # NY sales tax, rounded down
            lines.append(
                OrderLineInput(
                    line_id=str(i),
                    sku=sku,
                    quantity=quantity,
                    unit_price=product.price,
                    discount=Money(500 if n % 4 == 0 else 0, USD),
                    tax=Money(tax, USD),
                    serial_numbers=serials,
                )
            )
        draft = OrderInput(
            order_number=f"NW-{10001 + n}",
            placed_at=placed,
            delivered_at=placed + timedelta(days=2) if n >= 1 else None,
            currency=USD,
            lines=tuple(lines),
            customer=CustomerInput(email=email, name=name, phone=phone),
            shipping_address=AddressInput(*address),
            shipping_total=Money(599, USD),
        )
        total = order_total(draft)
        tenders: tuple[TenderInput, ...]
        if n % 5 == 0:  # a split tender: a gift card first, the rest on the card
            gift = min(2500, total - 1)
            tenders = (
                TenderInput("gift_card", Money(gift, USD), f"GC-{n:04d}", "giftcards"),
                TenderInput("card", Money(total - gift, USD), f"ch_demo_{n:04d}", "stripe"),
            )
        else:
            tenders = (TenderInput("card", Money(total, USD), f"ch_demo_{n:04d}", "stripe"),)
        orders.append(dataclasses.replace(draft, tenders=tenders))
    return orders


def _merchant(slug: str, name: str, currency: str, tz: str, colour: str, email: str) -> Merchant:
    existing = Merchant.objects.filter(slug=slug).first()
    if existing:
        return existing
    return merchant_create(
        actor=ACTOR,
        slug=slug,
        name=name,
        currency=currency,
        timezone_name=tz,
        support_email=email,
        brand_color=colour,
    )


def _user(email: str, role: str, merchant: Merchant | None, superuser: bool = False) -> None:
    user = User.objects.filter(email=email).first() or user_create(
        actor=ACTOR, email=email, password=PASSWORD, is_superuser=superuser
    )
    membership_grant(actor=ACTOR, user=user, role=role, merchant=merchant)


def seed(
    *,
    report: DemoReport,
    with_online_retail: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, str]:
    """Seed the demo; answers the new API keys (empty when they were made by an earlier run)."""
    provider = Provider.current()
    if provider.name == "ReturnDesk":
        provider.name = "Harbor Returns (demo provider)"
        provider.support_email = "ops@harbor-returns.example"
        provider.save()
    northwind = _merchant(
        "northwind",
        "Northwind Electronics & Apparel",
        USD,
        "America/New_York",
        "#0E7C66",
        "help@northwind.example",
    )
    with merchant_scope(northwind):
        products_upsert(actor=ACTOR, merchant=northwind, products=_northwind_products())
        orders_upsert(actor=ACTOR, merchant=northwind, orders=_northwind_orders(date.today()))
    report.say("northwind: synthetic electronics and apparel, 40 orders (USD, New York)")
    merchants = [northwind]
    data_file = online_retail_file()
    if with_online_retail and data_file.is_file():
        retail = _merchant(
            "online-retail",
            "Online Retail (UCI data set)",
            "GBP",
            "Europe/London",
            "#B5179E",
            "hello@online-retail.example",
        )
        merchants.append(retail)
        summary = import_orders(
            actor=ACTOR,
            merchant=retail,
            path=data_file,
            fmt="online-retail",
            shift_to=date.today(),
            progress=progress,
        )
        history = historical_returns_import(
            actor=ACTOR, merchant=retail, path=data_file, shift_to=date.today()
        )
        report.say(
            f"online-retail: {summary.created} orders created, {summary.unchanged} already "
            f"there, {summary.skipped_rows} rows skipped (non-sales), shifted to today; "
            f"{history.returns_created} historical returns"
        )
    elif with_online_retail:
        report.say(
            f"online-retail: NOT seeded: {data_file} is absent, so only the synthetic merchant "
            "is there"
        )
    if not Facility.objects.filter(code="HRB-NJ1").exists():
        facility_create(
            actor=ACTOR,
            code="HRB-NJ1",
            name="Harbor Returns Secaucus",
            line1="500 Harbor Blvd",
            city="Secaucus",
            region="NJ",
            postal_code="07094",
            country="US",
            timezone_name="America/New_York",
            merchant_slugs=[m.slug for m in merchants],
        )
    else:
        Facility.objects.get(code="HRB-NJ1").merchants.add(*merchants)
    _user("ops@harbor-returns.example", "provider_admin", None, superuser=True)
    _user("warehouse@harbor-returns.example", "warehouse", None)
    for role in ("merchant_admin", "agent", "finance", "merchant_viewer"):
        _user(f"{role.replace('_', '-')}@northwind.example", role, northwind)
    keys: dict[str, str] = {}
    if not northwind.api_keys.exists():
        _, keys["merchant key (northwind)"] = apikey_create(
            actor=ACTOR, name="demo merchant key", merchant=northwind
        )
        _, keys["provider key (HRB-NJ1)"] = apikey_create(
            actor=ACTOR, name="demo station key", facility_codes=["HRB-NJ1"]
        )
    return keys
