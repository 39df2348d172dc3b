"""Generate a merchant's orders and returns at volume from the Online Retail distributions
(PostgreSQL only: rows go in with COPY). Used by B5; usable on its own:

    DATABASE_URL=postgres://... python benchmarks/generate_volume.py --merchant b5-shop \\
        --return-lines 1000000 [--seed 5] [--data ../shared/data/online-retail/online_retail.csv.gz]

What comes from the real file (`OnlineRetail.read`), and what does not:

- SKUs and their popularity: one product per StockCode sold, drawn for each order line with the
  weight of its number of sale rows; its price is the median price of those rows (pence, GBP);
  its category is the first two characters of the StockCode ("family 22"), since the file has no
  categories.
- Orders: each is one of the file's invoices, picked at random, placed at that invoice's time
  shifted so the newest invoice falls on --end (so the year's seasonality, weekdays and hours are
  the file's), with as many lines as a random invoice of the file has.
- Quantities: a sale line's units are drawn from the file's sale rows; a return line's from its
  C (return) rows, never more than the line sold.
- Returns: lines per return from the file's C invoices (rows per invoice); the delay from purchase
  to return from the file's own C rows matched to the same customer's latest earlier purchase of
  the StockCode (about 9 days median). A delay that would end after --end is drawn again.
- Return rate: the file returns 1.7 % of its sale lines; at that rate a million return lines
  would need 59 million order lines, so the generator returns --line-return-share (default
  25 %) of the lines it sells, a B2C level, keeping every shape above.
- Not in the file, so assumed and stated here: return reasons (the policy's default reasons in
  REASONS' proportions, shopper-survey-like); channels, statuses and resolutions (the mixes
  below); the times of shipment, receipt, inspection and refund after the request (log-normal,
  medians 1.5 d, 3 d, 1 d, 0.5 d); inspected units per line (the line's units, at most
  INSPECTED_PER_LINE: a carton of 80 mugs is inspected by sample, and it bounds the rows);
  defects (a rate per SKU from a beta distribution around 6 %, with a spike on SPIKED of the 60
  best-selling SKUs in the last 14 days so the early warning has something to find);
  dispositions, refund methods, deductions, contradictions, adjustments, exchanges and store
  credit in the mixes below.

Rows are written per table with COPY, ids assigned here (sequences moved past them at the end),
then ANALYZE. Foreign keys are checked as usual at each COPY's commit. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returndesk.config.settings")

import django

django.setup()

from django.db import connection, models  # noqa: E402

from common import data_dir, log  # noqa: E402
from returndesk.catalog.models import Order, OrderLine, Product  # noqa: E402
from returndesk.credit.models import (  # noqa: E402
    StoreCreditAccount,
    StoreCreditEntry,
    StoreCreditLot,
    StoreCreditLotUse,
)
from returndesk.refunds.models import Adjustment, Exchange, Refund, Settlement  # noqa: E402
from returndesk.returns.models import Return, ReturnEvent, ReturnLine  # noqa: E402
from returndesk.shipping.models import Label  # noqa: E402
from returndesk.tenants.models import Facility, Merchant  # noqa: E402
from returndesk.warehouse.models import (  # noqa: E402
    Disposition,
    Inspection,
    InspectionDefect,
    Receipt,
    ReceiptLine,
)

LONDON = ZoneInfo("Europe/London")
NON_PRODUCT = {"POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}
REASONS = {
    "wrong_size": 30,
    "changed_mind": 20,
    "defective": 14,
    "not_as_described": 12,
    "no_longer_needed": 11,
    "damaged_in_transit": 8,
    "wrong_item": 5,
}
CHANNELS = {"portal": 62, "api": 14, "email": 8, "phone": 7, "chat": 3, "in_store": 2, "import": 4}
# where a return stands now (older returns are further along: see `_status`)
OPEN_STATUSES = {"authorized": 30, "in_transit": 30, "received": 20, "inspected": 20}
RELEASED = {"rejected": 40, "cancelled": 35, "expired": 25}
RELEASED_SHARE = 0.06
REVIEW_SHARE = 0.04
RESOLUTIONS = {"refund": 80, "store_credit": 12, "exchange": 8}
METHODS = {"card": 70, "paypal": 25, "gift_card": 5}
DISPOSITIONS = {
    "restock": (55, 0.85, 2.0),  # (weight, share of the price recovered, kg CO2e avoided)
    "refurbish": (12, 0.55, 1.8),
    "liquidate": (10, 0.25, 1.7),
    "return_to_vendor": (6, 0.6, 1.6),
    "donate": (6, 0.0, 1.9),
    "recycle": (6, 0.02, 0.6),
    "discard": (5, -0.05, 0.0),
}
CONDITION = {
    "restock": "sellable",
    "refurbish": "refurbish_queue",
    "liquidate": "outbound_liquidator",
    "return_to_vendor": "outbound_vendor",
    "donate": "donated",
    "recycle": "recycled",
    "discard": "discarded",
}
DEFECT_CODES = ["cosmetic", "functional", "missing_parts", "stained_soiled", "water_damage"]
INSPECTED_PER_LINE = 2
SPIKED = 3
STEP_MEDIANS_H = {"ship": 36, "transit": 72, "inspect": 24, "refund": 12}
COPY_BATCH = 100_000


# --- the file's distributions ------------------------------------------------------------------


@dataclass
class OnlineRetail:
    skus: list[str] = field(default_factory=list)
    sku_weights: list[float] = field(default_factory=list)
    prices: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    invoice_times: list[datetime] = field(default_factory=list)
    lines_per_invoice: list[int] = field(default_factory=list)
    sold_quantities: list[int] = field(default_factory=list)
    returned_quantities: list[int] = field(default_factory=list)
    lines_per_return: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)  # days from purchase to return
    newest: datetime | None = None

    @classmethod
    def read(cls, path: Path) -> OnlineRetail:
        found = cls()
        rows_of: Counter[str] = Counter()
        prices: dict[str, list[int]] = defaultdict(list)
        invoices: dict[str, tuple[datetime, int]] = {}
        returns: Counter[str] = Counter()
        bought: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        returned: list[tuple[str, str, datetime]] = []
        with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream)
            next(reader)
            for invoice, code, name, qty, when, price, customer, _ in reader:
                if code in NON_PRODUCT or code.startswith("GIFT_"):
                    continue
                quantity = int(qty)
                at = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
                if invoice.startswith("C"):
                    if quantity < 0:
                        found.returned_quantities.append(-quantity)
                        returns[invoice] += 1
                        if customer:
                            returned.append((customer, code, at))
                    continue
                pence = round(float(price) * 100)
                if quantity <= 0 or pence <= 0 or invoice.startswith("A"):
                    continue
                rows_of[code] += 1
                prices[code].append(pence)
                found.names.setdefault(code, name.strip() or code)
                found.sold_quantities.append(quantity)
                first, count = invoices.get(invoice, (at, 0))
                invoices[invoice] = (first, count + 1)
                if customer:
                    bought[(customer, code)].append(at)
        found.skus = sorted(rows_of)
        found.sku_weights = [rows_of[s] for s in found.skus]
        found.prices = {s: int(statistics.median(p)) for s, p in prices.items()}
        found.invoice_times = [at for at, _ in invoices.values()]
        found.lines_per_invoice = [n for _, n in invoices.values()]
        found.lines_per_return = list(returns.values())
        for times in bought.values():
            times.sort()
        for customer, code, at in returned:
            times = bought.get((customer, code), [])
            i = bisect.bisect_left(times, at)
            if i:
                found.delays.append((at - times[i - 1]).total_seconds() / 86400)
        found.newest = max(found.invoice_times)
        return found


# --- writing with COPY -------------------------------------------------------------------------


class Table:
    """A model's table: a row is its defaults with the given values, in column order."""

    def __init__(self, model: type[models.Model], now: datetime) -> None:
        self.model = model
        self.name = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        self.template: list[Any] = [self._default(f, now) for f in self.fields]
        self.json = [i for i, f in enumerate(self.fields) if isinstance(f, models.JSONField)]
        self.rows: list[list[Any]] = []
        self.written = 0
        self.next_id = (model._base_manager.aggregate(m=models.Max("id"))["m"] or 0) + 1

    @staticmethod
    def _default(f: models.Field[Any, Any], now: datetime) -> Any:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            return now
        if f.has_default() and not callable(f.default):
            return f.default
        if f.has_default() and f.default in (dict, list):
            return f.default()
        if f.null:
            return None
        if isinstance(f, models.BooleanField):
            return False
        if isinstance(f, (models.CharField, models.TextField, models.FileField)):
            return ""  # a file field is its name, empty for none
        if isinstance(f, (models.IntegerField, models.DecimalField)):
            return 0
        return None

    def add(self, **values: Any) -> int:
        row = list(self.template)
        pk = values.pop("id", None) or self.next_id
        self.next_id = max(self.next_id, pk + 1)
        row[self.index["id"]] = pk
        for name, value in values.items():
            row[self.index[name]] = value
        self.rows.append(row)
        return pk

    def flush(self) -> None:
        if not self.rows:
            return
        columns = ", ".join(f'"{f.column}"' for f in self.fields)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f'COPY "{self.name}" ({columns}) FROM STDIN') as copy:
                for row in self.rows:
                    for i in self.json:
                        row[i] = json.dumps(row[i])
                    copy.write_row(row)
        self.written += len(self.rows)
        self.rows = []

    def finish(self) -> None:
        self.flush()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{self.name}\"', 'id'), "
                f'(SELECT coalesce(max(id), 1) FROM "{self.name}"))'
            )
            cursor.execute(f'ANALYZE "{self.name}"')


# --- the generator -----------------------------------------------------------------------------


def chooser(rng: random.Random, weights: dict[str, Any]) -> Callable[[], str]:
    keys = list(weights)
    cumulative = list(_cumulative([w[0] if isinstance(w, tuple) else w for w in weights.values()]))
    return lambda: keys[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _cumulative(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def lognormal_hours(rng: random.Random, median_hours: float) -> timedelta:
    return timedelta(hours=median_hours * math.exp(rng.gauss(0, 0.6)))


@dataclass
class Generator:
    merchant: Merchant
    facility: Facility
    source: OnlineRetail
    end: datetime
    rng: random.Random
    share: float
    tables: dict[str, Table] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        for model in (
            Product, Order, OrderLine, Return, ReturnLine, ReturnEvent, Label, Receipt,
            ReceiptLine, Inspection, InspectionDefect, Disposition, Settlement, Refund,
            Adjustment, Exchange, StoreCreditAccount, StoreCreditEntry, StoreCreditLot,
            StoreCreditLotUse,
        ):  # fmt: skip
            self.tables[model.__name__] = Table(model, now)
        assert self.source.newest is not None
        self.shift = self.end - self.source.newest
        self.sku_cumulative = list(_cumulative(self.source.sku_weights))
        self.reason = chooser(self.rng, REASONS)
        self.channel = chooser(self.rng, CHANNELS)
        self.open_status = chooser(self.rng, OPEN_STATUSES)
        self.released = chooser(self.rng, RELEASED)
        self.resolution = chooser(self.rng, RESOLUTIONS)
        self.method = chooser(self.rng, METHODS)
        self.disposition = chooser(self.rng, DISPOSITIONS)
        self.defect_rate = {s: self.rng.betavariate(3, 47) for s in self.source.skus}
        # spikes on popular SKUs: a rarely sold one never reaches the 20 inspected units a flag
        # needs in 14 days
        by_sales = sorted(zip(self.source.sku_weights, self.source.skus, strict=True), reverse=True)
        popular = [sku for _, sku in by_sales]
        self.spiked = set(self.rng.sample(popular[:60], SPIKED))
        self.product_ids: dict[str, int] = {}
        self.accounts: dict[str, int] = {}
        self.sequence = 0

    def t(self, name: str) -> Table:
        return self.tables[name]

    def public(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}_b5{self.sequence:018d}"

    def products(self) -> None:
        for sku in self.source.skus:
            self.product_ids[sku] = self.t("Product").add(
                merchant_id=self.merchant.pk,
                sku=sku,
                name=self.source.names[sku][:300],
                category=f"family {sku[:2]}",
                currency=self.merchant.currency,
                price_amount=self.source.prices[sku],
            )

    def pick_sku(self) -> str:
        at = self.rng.random() * self.sku_cumulative[-1]
        return self.source.skus[bisect.bisect(self.sku_cumulative, at)]

    def run(self, return_lines: int) -> None:
        self.products()
        started, order_no = time.perf_counter(), 0
        while self.counts["return_lines"] < return_lines:
            order_no += 1
            self.order(order_no, return_lines)
            if any(len(t.rows) >= COPY_BATCH for t in self.tables.values()):
                for table in self.tables.values():  # parents first: keys exist when checked
                    table.flush()
            if order_no % 20_000 == 0:
                rate = self.counts["return_lines"] / (time.perf_counter() - started)
                log(f"{order_no} orders, {dict(self.counts)} ({rate:.0f} return lines/s)")
        for table in self.tables.values():
            table.finish()
        log(f"written: { {n: t.written for n, t in self.tables.items()} }")

    def order(self, number: int, wanted: int) -> None:
        m, cur = self.merchant.pk, self.merchant.currency
        placed = self.rng.choice(self.source.invoice_times) + self.shift
        size = self.rng.choice(self.source.lines_per_invoice)
        email = f"customer-{self.rng.randrange(60_000)}@b5.invalid"
        order_id = self.t("Order").add(
            merchant_id=m,
            order_number=f"B5-{number:08d}",
            email=email,
            placed_at=placed,
            currency=cur,
            source="import",
        )
        lines = []
        for position in range(1, size + 1):
            sku = self.pick_sku()
            units = self.rng.choice(self.source.sold_quantities)
            price = self.source.prices[sku]
            pk = self.t("OrderLine").add(
                merchant_id=m,
                order_id=order_id,
                line_id=str(position),
                position=position,
                product_id=self.product_ids[sku],
                sku=sku,
                name=self.source.names[sku][:300],
                quantity=units,
                currency=cur,
                unit_price_amount=price,
            )
            lines.append((pk, sku, units, price))
        self.counts["order_lines"] += size
        # about `share` of the lines sold come back, in returns of the file's sizes
        budget = sum(1 for _ in lines if self.rng.random() < self.share)
        pool = list(lines)  # a line comes back in one return at most
        while budget > 0 and pool and self.counts["return_lines"] < wanted:
            take = min(budget, self.rng.choice(self.source.lines_per_return), len(pool))
            chosen = self.rng.sample(pool, take)
            pool = [line for line in pool if line not in chosen]
            self.return_(order_id, placed, email, chosen)
            budget -= take

    def _status(self, age: timedelta) -> str:
        if self.rng.random() < RELEASED_SHARE:
            return self.released()
        if age > timedelta(days=21) or self.rng.random() < 0.5:
            return "completed"
        return self.open_status()

    def return_(self, order_id: int, placed: datetime, email: str, lines: list[Any]) -> None:
        for _ in range(5):
            requested = placed + timedelta(days=self.rng.choice(self.source.delays))
            if requested < self.end:
                break
        else:
            return
        m, cur, rng = self.merchant.pk, self.merchant.currency, self.rng
        channel = self.channel()
        status = "completed" if channel == "import" else self._status(self.end - requested)
        resolution = "refund" if channel == "import" else self.resolution()
        reviewed = rng.random() < REVIEW_SHARE or status == "rejected"
        signals = [{"signal": "order_value", "points": 5.0, "detail": "order value"}]
        if reviewed:
            signal = rng.choice(["email_velocity", "blocklisted", "return_rate"])
            signals.append({"signal": signal, "points": 40.0, "detail": ""})
        self.counts["returns"] += 1
        ret_id = self.t("Return").add(
            merchant_id=m,
            ran=f"B5{self.counts['returns']:011d}",
            order_id=order_id,
            email=email,
            status=status,
            channel=channel,
            resolution=resolution,
            currency=cur,
            risk_reasons=signals,
            created_by_label="b5",
            created_at=requested,
        )
        return_lines = []
        for order_line_id, sku, sold, price in lines:
            units = min(sold, rng.choice(self.source.returned_quantities))
            reason = self.reason()
            pk = self.t("ReturnLine").add(
                merchant_id=m,
                return_request_id=ret_id,
                order_line_id=order_line_id,
                sku=sku,
                name=self.source.names[sku][:300],
                quantity=units,
                reason=reason,
                currency=cur,
                value_amount=units * price,
                created_at=requested,
            )
            return_lines.append((pk, sku, units, price, reason))
        self.counts["return_lines"] += len(lines)
        if channel == "import":
            self.event(ret_id, "return.imported", "completed", requested)
            return
        self.journey(ret_id, requested, status, reviewed, resolution, email, return_lines)

    def event(self, ret_id: int, kind: str, to_status: str, at: datetime, **kw: Any) -> None:
        self.t("ReturnEvent").add(
            merchant_id=self.merchant.pk,
            return_request_id=ret_id,
            public_id=self.public("evt"),
            type=kind,
            to_status=to_status,
            actor_label="b5",
            created_at=at,
            **kw,
        )

    def journey(
        self,
        ret_id: int,
        requested: datetime,
        status: str,
        reviewed: bool,
        resolution: str,
        email: str,
        lines: list[Any],
    ) -> None:
        """The timeline of a return as far as its status, and the rows each step writes."""
        rng, m, cur = self.rng, self.merchant.pk, self.merchant.currency
        if reviewed:
            self.event(ret_id, "return.pending_review", "pending_review", requested)
            if status in {"rejected", "cancelled"}:
                decided = requested + timedelta(hours=3)
                self.event(
                    ret_id, f"return.{status}", status, decided, from_status="pending_review"
                )
                return
            decided = requested + timedelta(hours=3)
            self.event(
                ret_id, "return.authorized", "authorized", decided, from_status="pending_review"
            )
        else:
            self.event(ret_id, "return.authorized", "authorized", requested)
        if status in RELEASED:
            self.event(ret_id, f"return.{status}", status, requested + timedelta(days=15))
            return
        self.t("Label").add(
            merchant_id=m,
            public_id=self.public("lbl"),
            return_request_id=ret_id,
            facility_id=self.facility.pk,
            kind="label",
            adapter="prepaid",
            carrier="ReturnDesk",
            tracking_number=f"RDB5{ret_id}",
            paid_by="merchant",
            cost_currency=cur,
            cost_amount=rng.randint(450, 900),
            currency=cur,
            merchant_cost_amount=rng.randint(350, 800),
            created_by_label="b5",
            created_at=requested,
        )
        order = ["authorized", "in_transit", "received", "inspected", "completed"]
        reached = order.index(status)
        shipped = requested + lognormal_hours(rng, STEP_MEDIANS_H["ship"])
        received = shipped + lognormal_hours(rng, STEP_MEDIANS_H["transit"])
        inspected = received + lognormal_hours(rng, STEP_MEDIANS_H["inspect"])
        refunded = inspected + lognormal_hours(rng, STEP_MEDIANS_H["refund"])
        if reached >= 1:
            self.event(ret_id, "return.in_transit", "in_transit", shipped)
        if reached < 2:
            return
        self.event(ret_id, "return.received", "received", received)
        receipt_id = self.t("Receipt").add(
            merchant_id=m,
            public_id=self.public("rcpt"),
            return_request_id=ret_id,
            facility_id=self.facility.pk,
            code=f"RDB5{ret_id}",
            matched_by="tracking",
            received_at=received,
            received_by_label="b5",
            state="closed",
            recorded_at=received,
        )
        contradicted = rng.random() < 0.012
        for line_id, sku, units, price, reason in lines:
            receipt_line = self.t("ReceiptLine").add(
                merchant_id=m,
                receipt_id=receipt_id,
                return_line_id=line_id,
                public_id=self.public("rcl"),
                expected_quantity=units,
                received_quantity=units,
            )
            if reached >= 3:
                for unit in range(1, min(units, INSPECTED_PER_LINE) + 1):
                    unit_of = (receipt_line, unit, sku, price, reason)
                    self.inspection(ret_id, unit_of, inspected, contradicted)
        if reached < 3:
            return
        self.event(ret_id, "return.inspected", "inspected", inspected)
        if reached < 4:
            return
        self.money(ret_id, resolution, email, lines, contradicted, refunded)
        self.event(ret_id, "return.completed", "completed", refunded + timedelta(minutes=5))

    def inspection(
        self,
        ret_id: int,
        unit_of: tuple[int, int, str, int, str],
        at: datetime,
        contradicted: bool,
    ) -> None:
        """One inspected unit (receipt line, unit, SKU, price, reason), its defects and, unless
        the box contradicted the shopper, its disposition."""
        rng, m = self.rng, self.merchant.pk
        receipt_line, unit, sku, price, reason = unit_of
        rate = self.defect_rate[sku]
        if sku in self.spiked and self.end - at < timedelta(days=14):
            rate = min(0.9, rate * 6 + 0.2)
        defects = rng.sample(DEFECT_CODES, 1 + (rng.random() < 0.2)) if rng.random() < rate else []
        inspection = self.t("Inspection").add(
            merchant_id=m,
            public_id=self.public("insp"),
            receipt_line_id=receipt_line,
            return_request_id=ret_id,
            facility_id=self.facility.pk,
            unit=unit,
            sku=sku,
            reason=reason,
            grade="X" if contradicted else ("C" if defects else "A"),
            defect_codes=defects,
            contradicted=contradicted,
            contradictions=["empty_box"] if contradicted else [],
            recommendation="restock",
            inspected_at=at,
            inspected_by_label="b5",
        )
        for code in defects:
            self.t("InspectionDefect").add(
                merchant_id=m,
                inspection_id=inspection,
                code=code,
                sku=sku,
                reason=reason,
                inspected_at=at,
            )
        if contradicted:
            return
        option = self.disposition()
        _, share, kg = DISPOSITIONS[option]
        gross = max(0, int(price * (share + 0.1)))
        self.t("Disposition").add(
            merchant_id=m,
            public_id=self.public("disp"),
            inspection_id=inspection,
            return_request_id=ret_id,
            facility_id=self.facility.pk,
            sku=sku,
            option=option,
            recommended=option,
            figures={
                "net_recovery": int(price * share),
                "gross_recovery": gross,
                "co2e_avoided_kg": round(kg * rng.uniform(0.5, 1.5), 3),
            },
            condition=CONDITION[option],
            lpn=f"B5{inspection:010d}",
            decided_at=at,
            decided_by_label="b5",
        )

    def money(
        self,
        ret_id: int,
        resolution: str,
        email: str,
        lines: list[Any],
        contradicted: bool,
        at: datetime,
    ) -> None:
        """The settlement, its refund (or store credit, or exchanges), and an adjustment when
        inspection contradicted a refund paid early."""
        rng, m, cur = self.rng, self.merchant.pk, self.merchant.currency
        paid = sum(units * price for _, _, units, price, _ in lines)
        deductions = []
        if rng.random() < 0.3:
            deductions.append(("return_shipping_fee", 300))
        if rng.random() < 0.12:
            deductions.append(("restocking_fee", paid // 10))
        if contradicted:
            deductions.append(("grade", paid))
        total = max(0, paid - sum(a for _, a in deductions))
        calculation = {
            "lines": [
                {
                    "line_id": str(i),
                    "deductions": [
                        {"code": c, "amount": {"amount": a, "currency": cur}}
                        for c, a in deductions
                        if c != "return_shipping_fee" and i == 0
                    ],
                }
                for i in range(len(lines))
            ],
            "return_deductions": [
                {"code": c, "amount": {"amount": a, "currency": cur}}
                for c, a in deductions
                if c == "return_shipping_fee"
            ],
        }
        settlement = self.t("Settlement").add(
            merchant_id=m,
            public_id=self.public("stl"),
            return_request_id=ret_id,
            order_id=None,
            number=1,
            stage="inspection",
            resolution=resolution,
            currency=cur,
            total_amount=total,
            calculation=calculation,
            created_by_label="b5",
        )
        if resolution == "exchange":
            for line_id, sku, units, price, _ in lines:
                self.t("Exchange").add(
                    merchant_id=m,
                    public_id=self.public("exc"),
                    return_request_id=ret_id,
                    return_line_id=line_id,
                    sku=sku,
                    quantity=units,
                    currency=cur,
                    price_amount=units * price,
                    credit_amount=units * price,
                    status="fulfilled",
                )
            return
        if contradicted and rng.random() < 0.5:
            # refunded early, then the box came back empty: the money is claimed back
            self.t("Adjustment").add(
                merchant_id=m,
                public_id=self.public("adj"),
                return_request_id=ret_id,
                cause="inspection",
                currency=cur,
                amount=max(1, paid),
            )
        if total <= 0:
            return
        credit = resolution == "store_credit"
        bonus = total // 20 if credit else 0
        method = "store_credit" if credit else self.method()
        refund_id = self.public("rfd")
        self.t("Refund").add(
            merchant_id=m,
            public_id=refund_id,
            settlement_id=settlement,
            return_request_id=ret_id,
            kind="store_credit" if credit else "payment",
            method=method,
            provider="store_credit" if credit else "manual",
            currency=cur,
            amount=total,
            bonus_amount=bonus,
            status="succeeded",
            idempotency_key=self.public("idem"),
            succeeded_at=at,
        )
        if credit:
            self.store_credit(email, refund_id, total + bonus, bonus, at)

    def store_credit(
        self, email: str, reference: str, amount: int, bonus: int, at: datetime
    ) -> None:
        m, cur = self.merchant.pk, self.merchant.currency
        account = self.accounts.get(email)
        if account is None:
            account = self.accounts[email] = self.t("StoreCreditAccount").add(
                merchant_id=m, public_id=self.public("sca"), email=email, currency=cur
            )
        entry = self.t("StoreCreditEntry").add(
            merchant_id=m,
            public_id=self.public("sce"),
            account_id=account,
            kind="issue",
            amount=amount,
            bonus_amount=bonus,
            currency=cur,
            balance_after_amount=amount,
            reference=reference,
            actor_label="b5",
            created_at=at,
        )
        spent = amount if self.rng.random() < 0.45 else 0
        lot = self.t("StoreCreditLot").add(
            merchant_id=m,
            public_id=self.public("scl"),
            account_id=account,
            entry_id=entry,
            currency=cur,
            amount=amount,
            remaining_amount=amount - spent,
        )
        if spent:
            redeem = self.t("StoreCreditEntry").add(
                merchant_id=m,
                public_id=self.public("sce"),
                account_id=account,
                kind="redeem",
                amount=-spent,
                currency=cur,
                balance_after_amount=0,
                reference=self.public("checkout"),
                actor_label="b5",
            )
            self.t("StoreCreditLotUse").add(
                merchant_id=m, entry_id=redeem, lot_id=lot, amount=spent, currency=cur
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchant", required=True, help="an existing merchant's slug (GBP)")
    parser.add_argument("--facility", required=True, help="a facility's code")
    parser.add_argument("--return-lines", type=int, default=1_000_000)
    parser.add_argument("--line-return-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--end", type=date.fromisoformat, default=date.today())
    parser.add_argument(
        "--data", type=Path, default=data_dir() / "online-retail" / "online_retail.csv.gz"
    )
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        log("generate_volume writes with COPY: set DATABASE_URL to a PostgreSQL database")
        return 2
    started = time.perf_counter()
    source = OnlineRetail.read(args.data)
    log(
        f"read {args.data.name}: {len(source.skus)} SKUs, {len(source.invoice_times)} invoices, "
        f"{len(source.delays)} matched return delays (median "
        f"{statistics.median(source.delays):.1f} days) in {time.perf_counter() - started:.1f} s"
    )
    merchant = Merchant.objects.get(slug=args.merchant)
    facility = Facility.objects.get(code=args.facility)
    end = datetime.combine(args.end, datetime.max.time(), tzinfo=ZoneInfo(merchant.timezone))
    generator = Generator(
        merchant, facility, source, end, random.Random(args.seed), args.line_return_share
    )
    generator.run(args.return_lines)
    log(f"generated {dict(generator.counts)} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
