"""The Online Retail importer against the real file's messy rows."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from returndesk.catalog.importing import online_retail
from returndesk.catalog.importing.base import Note, ParsedOrder, Skip
from returndesk.catalog.importing.runner import import_orders
from returndesk.catalog.models import Order, OrderLine, Product
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from tests.conftest import ON_POSTGRES

ACTOR = Actor.system("tests")


@pytest.fixture(scope="module")
def parsed(online_retail_file: Path) -> dict[str, object]:
    orders: dict[str, ParsedOrder] = {}
    skips: dict[int, Skip] = {}
    notes: list[Note] = []
    for event in online_retail.parse(online_retail_file):
        if isinstance(event, ParsedOrder):
            orders[event.order.order_number] = event
        elif isinstance(event, Skip):
            skips[event.line] = event
        else:
            notes.append(event)
    return {"orders": orders, "skips": skips, "notes": notes}


def test_every_row_is_an_order_line_or_a_reported_skip(parsed: dict) -> None:  # type: ignore[type-arg]
    lines = sum(len(p.order.lines) for p in parsed["orders"].values())
    assert lines + len(parsed["skips"]) == 541_909


def test_the_messy_rows_are_skipped_with_their_reasons(parsed: dict) -> None:  # type: ignore[type-arg]
    skips = parsed["skips"]
    reasons = Counter(s.reason.split(" ")[0] for s in skips.values())
    assert reasons["return"] == 9_288
    assert skips[47].reason == "non-product code POST"
    assert skips[143].reason.startswith("return invoice (C): not a sale")
    assert skips[157197].reason == "price 0.001 is finer than a penny"
    assert skips[361743].reason in {"non-product code BANK CHARGES"}
    negatives = [s for s in skips.values() if s.reason.startswith("negative quantity")]
    assert len(negatives) == 1_336  # negative quantities on invoices without a C
    zero_prices = [s for s in skips.values() if s.reason.startswith("zero or negative price")]
    assert zero_prices and all(not s.key.startswith("C") for s in zero_prices)


def test_guest_orders_have_no_email_and_customers_a_synthetic_one(parsed: dict) -> None:  # type: ignore[type-arg]
    first = parsed["orders"]["536365"].order
    assert first.customer.email == "customer-17850@online-retail.invalid"
    assert first.customer.external_id == "17850"
    assert first.shipping_address.country == "GB"
    assert first.delivered_at is None
    assert [t.method for t in first.tenders] == ["other"]
    assert first.tenders[0].amount.amount == sum(
        line.unit_price.amount * line.quantity for line in first.lines
    )
    guests = [p for p in parsed["orders"].values() if not p.order.customer.email]
    assert guests, "rows without a CustomerID make guest orders"


def test_line_ids_are_positions_within_the_invoice(parsed: dict) -> None:  # type: ignore[type-arg]
    # 536370 has POSTAGE as its 20th row: skipped, so its position is a gap.
    order = parsed["orders"]["536370"].order
    assert "20" not in [line.line_id for line in order.lines]
    # 542806 is interrupted by rows of another invoice: its rows still form one order.
    split = parsed["orders"]["542806"].order
    ids = [int(line.line_id) for line in split.lines]
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_exact_duplicates_stay_separate_lines_and_are_reported(parsed: dict) -> None:  # type: ignore[type-arg]
    notes = parsed["notes"]
    assert len(notes) > 5_000
    note = notes[0]
    order = parsed["orders"][note.key].order
    skus = Counter((line.sku, line.quantity, line.unit_price) for line in order.lines)
    assert max(skus.values()) >= 2


def test_shift_to_moves_the_newest_invoice_to_that_date(online_retail_file: Path) -> None:
    newest = online_retail.newest_invoice_date(online_retail_file)
    assert newest == date(2011, 12, 9)
    shifted = next(
        e
        for e in online_retail.parse(online_retail_file, shift_to=date(2026, 11, 26))
        if isinstance(e, ParsedOrder)
    )
    # 2010-12-01 08:26 London, shifted by the days from 2011-12-09 to 2026-11-26
    assert shifted.order.placed_at.date() == date(2025, 11, 18)
    assert (shifted.order.placed_at.hour, shifted.order.placed_at.minute) == (8, 26)


def _slice(source: Path, target: Path, rows: int) -> Path:
    with gzip.open(source, "rt", newline="") as src, gzip.open(target, "wt", newline="") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return target


@pytest.mark.django_db
def test_reimporting_changes_nothing_and_an_edit_updates_one_order(
    make_merchant,
    online_retail_file: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    merchant = make_merchant("retail", currency="GBP", tz="Europe/London")
    sample = _slice(online_retail_file, tmp_path / "sample.csv.gz", 3_000)
    first = import_orders(actor=ACTOR, merchant=merchant, path=sample, fmt="online-retail")
    assert first.created > 100 and first.updated == first.unchanged == 0
    again = import_orders(actor=ACTOR, merchant=merchant, path=sample, fmt="online-retail")
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    with gzip.open(sample, "rt") as f:
        text = f.read()
    edited = text.replace(
        "536365,71053,WHITE METAL LANTERN,6,", "536365,71053,WHITE METAL LANTERN,7,", 1
    )
    assert edited != text
    with gzip.open(sample, "wt") as f:
        f.write(edited)
    third = import_orders(actor=ACTOR, merchant=merchant, path=sample, fmt="online-retail")
    assert (third.created, third.updated) == (0, 1)
    with merchant_scope(merchant):
        line = OrderLine.objects.get(order__order_number="536365", line_id="2")
        assert line.quantity == 7


@pytest.mark.django_db
def test_the_wrong_currency_is_refused_before_anything_is_written(
    make_merchant,
    online_retail_file: Path,  # type: ignore[no-untyped-def]
) -> None:
    from returndesk.catalog.importing.base import ImportFormatError

    merchant = make_merchant("usd-shop")
    with pytest.raises(ImportFormatError, match="GBP"):
        import_orders(actor=ACTOR, merchant=merchant, path=online_retail_file, fmt="online-retail")
    with merchant_scope(merchant):
        assert not Order.objects.exists()


def _snapshot(merchant) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    with merchant_scope(merchant):
        lines = OrderLine.objects.select_related("order", "order__customer").order_by(
            "order__order_number", "position"
        )
        return [
            (
                li.order.order_number,
                li.order.email,
                li.order.customer.external_id if li.order.customer else None,
                li.order.placed_at,
                li.order.ship_country,
                li.line_id,
                li.position,
                li.sku,
                li.name,
                li.quantity,
                li.unit_price_amount,
                tuple(li.order.tenders.values_list("method", "amount")),
            )
            for li in lines
        ] + sorted(Product.objects.values_list("sku", "name", "price_amount"))


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_postgres_fast_path_writes_what_the_service_path_writes(
    make_merchant,
    online_retail_file: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    assert ON_POSTGRES
    sample = _slice(online_retail_file, tmp_path / "sample.csv.gz", 5_000)
    fast = make_merchant("fast", currency="GBP", tz="Europe/London")
    slow = make_merchant("slow", currency="GBP", tz="Europe/London")
    a = import_orders(actor=ACTOR, merchant=fast, path=sample, fmt="online-retail", fast_path=True)
    b = import_orders(actor=ACTOR, merchant=slow, path=sample, fmt="online-retail", fast_path=False)
    assert a.engine == "postgresql-copy" and b.engine == "orm-batches"
    assert (a.created, a.skipped_rows, a.notes) == (b.created, b.skipped_rows, b.notes)
    assert _snapshot(fast) == _snapshot(slow)
    again = import_orders(
        actor=ACTOR, merchant=fast, path=sample, fmt="online-retail", fast_path=True
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, a.created)


@pytest.mark.django_db
def test_the_whole_file_imports_once_and_reimports_unchanged(
    make_merchant,
    online_retail_file: Path,  # type: ignore[no-untyped-def]
) -> None:
    merchant = make_merchant("online-retail", currency="GBP", tz="Europe/London")
    first = import_orders(
        actor=ACTOR,
        merchant=merchant,
        path=online_retail_file,
        fmt="online-retail",
        shift_to=date(2026, 11, 26),
    )
    assert first.skipped_rows == 14_151
    assert first.created == 19_773 and first.failed_orders == 0
    with merchant_scope(merchant):
        assert OrderLine.objects.count() == 541_909 - 14_151
        assert Order.objects.filter(customer__isnull=True).exists()
    again = import_orders(
        actor=ACTOR,
        merchant=merchant,
        path=online_retail_file,
        fmt="online-retail",
        shift_to=date(2026, 11, 26),
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 19_773)


@pytest.mark.django_db
def test_c_invoices_become_completed_returns_linked_to_earlier_purchases(
    make_merchant,
    online_retail_file: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from returndesk.notifications.models import OutboxMessage
    from returndesk.returns.historical import historical_returns_import
    from returndesk.returns.models import Return, ReturnLine
    from returndesk.returns.selectors import order_line_return_quantities

    merchant = make_merchant("retail", currency="GBP", tz="Europe/London")
    sample = _slice(online_retail_file, tmp_path / "sample.csv.gz", 20_000)
    import_orders(actor=ACTOR, merchant=merchant, path=sample, fmt="online-retail")
    reported: list[tuple[int, str, str]] = []
    first = historical_returns_import(
        actor=ACTOR,
        merchant=merchant,
        path=sample,
        report=lambda kind, line, key, message: reported.append((line, key, message)),
    )
    assert first.returns_created > 20 and first.units_linked > 0
    assert first.rows_unlinked == sum(
        "match no earlier purchase" in m or "guest" in m for _, _, m in reported
    )
    with merchant_scope(merchant):
        returns = Return.objects.all()
        assert {r.status for r in returns} == {"completed"}
        assert not OutboxMessage.objects.exists()  # history writes no outbox rows
        for ret in returns.select_related("order"):
            assert ret.source_reference.startswith("C")
            assert ret.created_at > ret.order.placed_at  # linked to an earlier purchase
        for line in ReturnLine.objects.select_related("order_line"):
            assert line.quantity <= line.order_line.quantity
        # historical returns count as returned on their orders
        some = ReturnLine.objects.select_related("return_request").first()
        assert some is not None
        quantities = order_line_return_quantities(order_ids=[some.return_request.order_id])
        assert quantities[some.order_line_id][0] >= some.quantity
    # line 156 of the file: C536383 returns 35004C that customer 15311 had not bought before
    assert any(line == 156 and "35004C" in message for line, _, message in reported)
    again = historical_returns_import(actor=ACTOR, merchant=merchant, path=sample)
    assert (again.returns_created, again.returns_unchanged) == (0, first.returns_created)
