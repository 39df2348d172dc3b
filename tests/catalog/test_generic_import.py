from __future__ import annotations

import json
from pathlib import Path

import pytest

from returndesk.catalog.importing.base import ImportFormatError
from returndesk.catalog.importing.runner import import_orders
from returndesk.catalog.models import Order
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from tests.conftest import ApiClient
from tests.factories import order_body, product_body

ACTOR = Actor.system("tests")
pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(api: ApiClient) -> None:
    api.put("/products/SHOE-1", product_body())
    api.put("/products/SOCK-1", product_body(name="Sock"))


def run(merchant, path: Path, fmt: str, **kw):  # type: ignore[no-untyped-def]
    reported: list[tuple[str, int, str, str]] = []
    summary = import_orders(
        actor=ACTOR,
        merchant=merchant,
        path=path,
        fmt=fmt,
        report=lambda *a: reported.append(a),
        **kw,
    )
    return summary, reported


def test_jsonl_imports_good_lines_and_reports_bad_ones(merchant, catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad_sku = order_body()
    bad_sku["lines"][0]["sku"] = "UNKNOWN"
    rows = [
        json.dumps({"order_number": "J-1", **order_body()}),
        "{not json",
        json.dumps({"order_number": "J-2", **bad_sku}),
        json.dumps({"order_number": "J-3", **order_body(currency="EUR")}),
        json.dumps({"order_number": "J-4", **order_body(), "extra": True}),
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(rows) + "\n")
    summary, reported = run(merchant, path, "jsonl")
    assert summary.created == 1
    lines = {line: message for _, line, _, message in reported}
    assert lines[2].startswith("malformed JSON")
    assert "unknown SKU 'UNKNOWN'" in lines[3]
    assert "works in USD" in lines[4]
    assert "extra" in lines[5]
    with merchant_scope(merchant):
        assert list(Order.objects.values_list("order_number", flat=True)) == ["J-1"]
    again, _ = run(merchant, path, "jsonl")
    assert (again.created, again.unchanged) == (0, 1)


CSV_HEADER = "order_number,placed_at,email,line_id,sku,quantity,unit_price,tender_amount\n"


def test_csv_groups_rows_into_orders_and_never_half_writes(
    merchant, catalogue, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "orders.csv"
    path.write_text(
        CSV_HEADER
        + "C-1,2026-11-01T10:00:00+00:00,a@example.com,1,SHOE-1,1,89.00,101.00\n"
        + "C-1,2026-11-01T10:00:00+00:00,a@example.com,2,SOCK-1,1,12.00,\n"
        + "C-2,2026-11-02T10:00:00+00:00,b@example.com,1,SHOE-1,1,89.00,\n"
        + "C-2,2026-11-02T10:00:00+00:00,b@example.com,2,SOCK-1,-3,12.00,\n"
        + "C-3,2026-11-02T10:00:00+00:00,c@example.com,1,SHOE-1,1,89.001,\n"
        + "C-4,2026-11-02T10:00:00,c@example.com,1,SHOE-1,1,89.00,\n"
    )
    summary, reported = run(merchant, path, "csv")
    assert summary.created == 1
    messages = {line: message for _, line, _, message in reported}
    assert "lines[1].quantity: must be at least 1" in messages[4]
    assert "finer than the currency's minor unit" in messages[6]
    assert "needs a time zone offset" in messages[7]
    with merchant_scope(merchant):
        assert list(Order.objects.values_list("order_number", flat=True)) == ["C-1"]
        assert Order.objects.get().lines.count() == 2


def test_csv_columns_can_be_mapped(merchant, catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "shop-export.csv"
    path.write_text(
        "Order,Date,Email,Line,Item,Qty,Price\n"
        "M-1,2026-11-01T10:00:00-05:00,x@example.com,1,SHOE-1,2,89.00\n"
    )
    mapping = {
        "order_number": "Order",
        "placed_at": "Date",
        "email": "Email",
        "line_id": "Line",
        "sku": "Item",
        "quantity": "Qty",
        "unit_price": "Price",
    }
    summary, _ = run(merchant, path, "csv", mapping=mapping)
    assert summary.created == 1
    with pytest.raises(ImportFormatError, match="lacks required columns"):
        run(merchant, path, "csv")


def test_a_missing_file_and_shift_to_on_other_formats_are_refused(merchant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    with pytest.raises(ImportFormatError, match="no such file"):
        run(merchant, tmp_path / "nope.csv", "csv")
    path = tmp_path / "x.jsonl"
    path.write_text("")
    with pytest.raises(ImportFormatError, match="online-retail"):
        run(merchant, path, "jsonl", shift_to=date(2026, 1, 1))
