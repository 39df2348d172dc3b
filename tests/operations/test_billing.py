"""A fixture month with a fee schedule and a hand-computed statement: every line traces to
its return and event, the totals match to the cent, and the CSV and PDF say the same."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pypdfium2
import pytest
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.codes import format_ran
from returndesk.core.errors import PermissionDenied, ValidationFailed
from returndesk.operations.billing import statement_build
from returndesk.operations.documents import render_csv, render_pdf
from returndesk.operations.models import FeeRate
from returndesk.operations.services import fee_schedule_set
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.models import Disposition, Inspection, Receipt
from tests.operations.builders import World, local

pytestmark = pytest.mark.django_db

PROVIDER = Actor("user", "ops@example.com", permissions=perm.PROVIDER_ADMIN)
SCHEDULE = {
    "return_processed": 150,
    "label": 75,
    "inspection": 200,
    "disposition_restock": 50,
    "disposition_liquidate": 25,
    "storage_day": 10,
}


@pytest.fixture
def november(world: World, newark: Facility, merchant: Merchant, other_merchant: Merchant):
    """November 2025 at Newark for acme (America/New_York), and the edges of the month."""
    fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="USD", rates=SCHEDULE)
    # R1: label 3 Nov, received 5 Nov, two units inspected 6 Nov, restocked and liquidated on
    # 7 Nov: return fee, label, 2 inspections, 2 dispositions, storage 5 and 6 Nov (2 days).
    r1 = world.return_(status="inspected", authorized_at=local("2025-11-02 10:00"), units=2)
    world.label(r1, facility=newark, at=local("2025-11-03 10:00"))
    world.receive(r1, facility=newark, at=local("2025-11-05 14:00"))
    u1 = world.inspect(r1, unit=1, at=local("2025-11-06 10:00"))
    u2 = world.inspect(r1, unit=2, at=local("2025-11-06 10:10"), last=True)
    world.dispose(r1, u1, option="restock", at=local("2025-11-07 09:00"))
    world.dispose(r1, u2, option="liquidate", at=local("2025-11-07 09:05"), last=True)
    # R2: label in October; received 29 Nov 16:00 and still held: return fee, storage 29 and
    # 30 Nov (2 days); inspected 1 Dec (December's).
    r2 = world.return_(status="inspected", authorized_at=local("2025-10-29 10:00"))
    world.label(r2, facility=newark, at=local("2025-10-30 10:00"))
    world.receive(r2, facility=newark, at=local("2025-11-29 16:00"))
    world.inspect(r2, unit=1, at=local("2025-12-01 10:00"), last=True)
    # R3: received 28 Oct, dispositioned (refurbish: not in the schedule) on 3 Nov: storage
    # 1 and 2 Nov only (October's days are October's).
    r3 = world.return_(status="inspected", authorized_at=local("2025-10-20 10:00"))
    world.receive(r3, facility=newark, at=local("2025-10-28 12:00"))
    u3 = world.inspect(r3, unit=1, at=local("2025-10-29 12:00"), last=True)
    world.dispose(r3, u3, option="refurbish", at=local("2025-11-03 08:00"), last=True)
    # R4: received on 31 Oct at 23:30 in New York (1 Nov in UTC): October's return fee; held
    # all November: storage 30 days.
    r4 = world.return_(status="received", authorized_at=local("2025-10-20 10:00"))
    world.receive(r4, facility=newark, at=local("2025-10-31 23:30"))
    # R5: a label made on 10 Nov and voided: billed, marked voided.
    r5 = world.return_(status="cancelled", authorized_at=local("2025-11-10 09:00"))
    world.label(r5, facility=newark, at=local("2025-11-10 09:30"), status="voided")
    # R6: received 1 Dec at 00:30 New York time (still 30 Nov... no: 1 Dec local): December's.
    r6 = world.return_(status="received", authorized_at=local("2025-11-20 09:00"))
    world.receive(r6, facility=newark, at=local("2025-12-01 00:30"))
    # another merchant's package in November: never on acme's statement
    other = World(other_merchant)
    theirs = other.return_(status="received", authorized_at=local("2025-11-01 09:00"))
    other.receive(theirs, facility=newark, at=local("2025-11-12 09:00"))
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6}


def test_the_statement_matches_the_hand_computed_totals_to_the_cent(
    november, merchant: Merchant
) -> None:
    statement = statement_build(merchant=merchant, period="2025-11")
    totals = {t.fee: (t.lines, t.quantity, t.amount) for t in statement.totals}
    assert totals == {
        "return_processed": (2, 2, 300),  # R1, R2
        "label": (2, 2, 150),  # R1, R5 (voided)
        "inspection": (2, 2, 400),  # R1's two units
        "disposition_restock": (1, 1, 50),
        "disposition_liquidate": (1, 1, 25),
        "storage_day": (4, 36, 360),  # R1 2 days, R2 2, R3 2, R4 30
    }
    assert statement.total == 1285  # $12.85
    assert [t.fee for t in statement.totals] == list(totals)  # the schedule's order
    assert statement.currency == "USD" and statement.period == "2025-11"


def test_every_line_traces_to_its_return_and_event(november, merchant: Merchant) -> None:
    statement = statement_build(merchant=merchant, period="2025-11")
    r1, r4 = november["r1"], november["r4"]
    with scopes_disabled():
        rows = {
            **{r.public_id: r.return_request.ran for r in Receipt.objects.all()},
            **{i.public_id: i.return_request.ran for i in Inspection.objects.all()},
            **{d.public_id: d.return_request.ran for d in Disposition.objects.all()},
            **{
                label.public_id: label.return_request.ran
                for r in november.values()
                for label in r.labels
            },
        }
    for line in statement.lines:
        assert line.reference in rows, line
        assert format_ran(rows[line.reference]) == line.ran
        assert line.amount == line.quantity * line.unit_amount
    storage = {line.ran: line for line in statement.lines if line.fee == "storage_day"}
    held = storage[format_ran(r4.ret.ran)]
    assert (held.quantity, held.description) == (30, "Storage 2025-11-01 to 2025-11-30")
    assert held.reference == r4.receipt.public_id
    r1_storage = storage[format_ran(r1.ret.ran)]
    assert (r1_storage.quantity, r1_storage.description) == (2, "Storage 2025-11-05 to 2025-11-06")
    voided = [
        line for line in statement.lines if line.fee == "label" and "voided" in line.description
    ]
    assert len(voided) == 1
    assert [line.at for line in statement.lines] == sorted(line.at for line in statement.lines)


def test_the_neighbouring_months_take_their_own_days(november, merchant: Merchant) -> None:
    october = statement_build(merchant=merchant, period="2025-10")
    oct_totals = {t.fee: (t.lines, t.quantity, t.amount) for t in october.totals}
    # R3 and R4 received in October (R4 at 23:30 on the 31st, New York time); R2's label
    assert oct_totals["return_processed"] == (2, 2, 300)
    assert oct_totals["label"] == (1, 1, 75)
    # R3 held 28-31 Oct (4 days), R4 the 31st (1 day)
    assert oct_totals["storage_day"] == (2, 5, 50)
    december = statement_build(merchant=merchant, period="2025-12")
    dec = {t.fee: (t.lines, t.quantity) for t in december.totals}
    assert dec["return_processed"] == (1, 1)  # R6 at 00:30 on 1 December
    assert dec["inspection"] == (1, 1)  # R2's


def test_a_fee_not_in_the_schedule_is_not_billed_and_no_schedule_bills_nothing(
    november, merchant: Merchant, other_merchant: Merchant
) -> None:
    statement = statement_build(merchant=merchant, period="2025-11")
    assert "disposition_refurbish" not in {line.fee for line in statement.lines}
    theirs = statement_build(merchant=other_merchant, period="2025-11")
    assert theirs.lines == () and theirs.total == 0


def test_the_csv_has_one_row_per_line_and_adds_up(november, merchant: Merchant) -> None:
    statement = statement_build(merchant=merchant, period="2025-11")
    rows = list(csv.DictReader(io.StringIO(render_csv(statement))))
    assert len(rows) == len(statement.lines) == 12
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("12.85")
    assert rows[0]["fee"] == "storage_day" and rows[0]["date"] == "2025-11-01T00:00:00-04:00"
    label = next(row for row in rows if row["fee"] == "label")
    assert label["date"] == "2025-11-03T10:00:00-05:00"  # after the clocks went back
    assert label["unit_price"] == "0.75" and label["currency"] == "USD"
    assert {row["ran"] for row in rows} >= {format_ran(november["r1"].ret.ran)}


def test_the_pdf_renders_and_reads_back(november, merchant: Merchant) -> None:
    statement = statement_build(merchant=merchant, period="2025-11")
    data = render_pdf(statement, fee_names={"storage_day": "Storage per day"})
    assert data.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(data)
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "$12.85" in text
    assert "Storage per day" in text
    assert format_ran(november["r4"].ret.ran) in text
    assert "2025-11" in text


def test_the_schedule_needs_billing_rights_one_currency_and_sane_amounts(
    merchant: Merchant,
) -> None:
    finance = Actor("user", "f@example.com", permissions=perm.FINANCE)
    with pytest.raises(PermissionDenied):
        fee_schedule_set(actor=finance, merchant=merchant, currency="USD", rates={})
    with pytest.raises(ValidationFailed):
        fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="usd", rates={})
    with pytest.raises(ValidationFailed):
        fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="USD", rates={"label": -1})
    with pytest.raises(ValidationFailed):
        fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="USD", rates={"nap": 1})
    fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="USD", rates={"label": 75})
    with pytest.raises(ValidationFailed):  # the other fees would stay in dollars
        fee_schedule_set(actor=PROVIDER, merchant=merchant, currency="EUR", rates={"inspection": 1})
    fee_schedule_set(
        actor=PROVIDER, merchant=merchant, currency="EUR", rates={"label": 80, "inspection": 100}
    )
    with scopes_disabled():
        assert sorted(FeeRate.objects.values_list("fee", "amount", "currency")) == [
            ("inspection", 100, "EUR"),
            ("label", 80, "EUR"),
        ]
    with pytest.raises(ValidationFailed):
        statement_build(merchant=merchant, period="2025-13")


def test_the_statement_command_writes_csv_and_pdf(november, tmp_path) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("statement", merchant="acme", month="2025-11", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("12.85")
    target = tmp_path / "november.pdf"
    said = io.StringIO()
    call_command(
        "statement", merchant="acme", month="2025-11", format="pdf", output=str(target), stdout=said
    )
    assert target.read_bytes().startswith(b"%PDF")
    assert "12 lines, $12.85" in said.getvalue()
