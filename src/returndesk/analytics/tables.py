"""The figures as tables: the rows behind every chart, and the CSV export of each (the API's
`?format=csv` and the console's downloads give the same files).

Money is written in major units with the currency beside it (12.50, GBP), rates as decimals to
four places (0.1250), durations in hours to one place. A text cell that a spreadsheet would read
as a formula is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from returndesk.analytics.selectors import DefectFlag, RateRow, Summary
from returndesk.core.money import Money

SUMMARY_TABLES: tuple[str, ...] = (
    "return_rate",
    "reasons",
    "channels",
    "periods",
    "cycle_times",
    "dispositions",
    "refunds",
    "money",
    "fees",
    "cost",
    "fraud",
    "warnings",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | Decimal | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    rows: list[list[Cell]]


def ratio(value: Fraction | None, places: int = 4) -> Decimal | None:
    """A rate for people and files: a decimal, half up."""
    if value is None:
        return None
    exponent = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        exponent, rounding=ROUND_HALF_UP
    )


def percent(value: Fraction | None) -> str:
    """A rate as people read it: 12.5 %; an en dash for none."""
    found = ratio(value * 100 if value is not None else None, 1)
    return "\u2013" if found is None else f"{found}\u00a0%"


def hours(seconds: Fraction | None) -> Decimal | None:
    return None if seconds is None else ratio(seconds / 3600, 1)


def major(money: Money | None) -> Decimal | None:
    return None if money is None else money.to_decimal()


def _rate_rows(rows: list[RateRow], currency: str) -> list[list[Cell]]:
    return [
        [
            r.key,
            r.label,
            r.units_sold,
            r.units_returned,
            ratio(r.units_rate),
            major(r.value_sold),
            major(r.value_returned),
            ratio(r.value_rate),
            ratio(r.share),
            "yes" if r.ranked else "no",
            currency,
        ]
        for r in rows
    ]


RATE_COLUMNS = [
    "key",
    "label",
    "units_sold",
    "units_returned",
    "units_rate",
    "value_sold",
    "value_returned",
    "value_rate",
    "share_of_units_returned",
    "ranked",
    "currency",
]


def rates_table(rows: list[RateRow], group_by: str, currency: str) -> Table:
    return Table(
        f"return_rates_by_{group_by}", [group_by, *RATE_COLUMNS[1:]], _rate_rows(rows, currency)
    )


WARNING_COLUMNS = [
    "sku",
    "name",
    "category",
    "flagged",
    "window_inspected",
    "window_defective",
    "window_rate",
    "baseline_inspected",
    "baseline_defective",
    "baseline_rate",
    "category_rate",
    "expected_rate",
    "p_value",
    "defect_codes",
]


def defects_table(flags: list[DefectFlag]) -> Table:
    rows: list[list[Cell]] = []
    for f in flags:
        w = f.warning
        rows.append(
            [
                f.sku,
                f.name,
                f.category,
                "yes" if w.flagged else "no",
                w.window.inspected,
                w.window.defective,
                ratio(w.window.rate),
                w.baseline.inspected,
                w.baseline.defective,
                ratio(w.baseline.rate),
                ratio(w.category_rate),
                ratio(w.expected_rate),
                None if w.p_value is None else f"{w.p_value:.3g}",
                "; ".join(f"{code} {n}" for code, n in f.codes),
            ]
        )
    return Table("defect_trends", WARNING_COLUMNS, rows)


def summary_table(summary: Summary, name: str) -> Table:
    """One table of the summary by name (SUMMARY_TABLES)."""
    cur = summary.currency
    rate = summary.return_rate
    if name == "return_rate":
        return Table(
            name,
            ["figure", "units", "value", "currency"],
            [
                ["sold", rate.units_sold, major(rate.value_sold), cur],
                ["returned", rate.units_returned, major(rate.value_returned), cur],
                ["rate", ratio(rate.units_rate), ratio(rate.value_rate), None],
                ["returns", rate.returns, None, None],
                ["return_lines", rate.lines_returned, None, None],
                ["returns_rejected_cancelled_expired", rate.released, None, None],
            ],
        )
    if name in {"reasons", "channels"}:
        rows = summary.reasons if name == "reasons" else summary.channels
        return replace(rates_table(rows, name[:-1], cur), name=name)
    if name == "periods":
        codes = summary.reason_codes
        return Table(
            name,
            [
                f"{summary.period}_starting",
                "units_sold",
                "units_returned",
                "units_rate",
                "value_sold",
                "value_returned",
                *codes,
                "currency",
            ],
            [
                [
                    p.start.isoformat(),
                    p.units_sold,
                    p.units_returned,
                    ratio(p.units_rate),
                    major(p.value_sold),
                    major(p.value_returned),
                    *(p.reasons.get(code, 0) for code in codes),
                    cur,
                ]
                for p in summary.periods
            ],
        )
    if name == "cycle_times":
        return Table(
            name,
            ["step", "returns", "p50_hours", "p90_hours"],
            [[c.step, c.returns, hours(c.p50), hours(c.p90)] for c in summary.cycle_times],
        )
    if name == "dispositions":
        d = summary.dispositions
        body: list[list[Cell]] = [
            [
                r.option,
                r.units,
                major(r.recovered),
                major(r.original),
                ratio(r.recovery_rate),
                r.co2e_kg,
                cur,
            ]
            for r in d.rows
        ]
        body.append(
            [
                "all",
                d.units,
                major(d.recovered),
                major(d.original),
                ratio(d.recovery_rate),
                d.co2e_kg,
                cur,
            ]
        )
        return Table(
            name,
            [
                "option",
                "units",
                "recovered",
                "original_price",
                "recovery_rate",
                "co2e_avoided_kg",
                "currency",
            ],
            body,
        )
    money = summary.money
    if name == "refunds":
        body = [["succeeded", r.key, r.count, major(r.amount), cur] for r in money.refunds]
        body += [[r.key, "", r.count, major(r.amount), cur] for r in money.open_refunds]
        return Table(name, ["status", "method", "refunds", "amount", "currency"], body)
    if name == "money":
        credit = money.store_credit
        return Table(
            name,
            ["figure", "amount", "currency"],
            [
                ["refunded", major(money.refunded), cur],
                ["store_credit_issued", major(credit.issued), cur],
                ["store_credit_bonus", major(credit.bonus), cur],
                ["store_credit_redeemed", major(credit.redeemed), cur],
                ["store_credit_unspent", major(credit.unspent), cur],
                ["store_credit_expired", major(credit.expired), cur],
                ["store_credit_reversed_or_adjusted", major(credit.other), cur],
                ["exchange_credit", major(money.exchange_credit), cur],
                ["retained", major(money.retained), cur],
                ["fees_collected", major(money.fees_total), cur],
            ],
        )
    if name == "fees":
        return Table(
            name,
            ["deduction", "count", "amount", "currency"],
            [[r.key, r.count, major(r.amount), cur] for r in money.fees],
        )
    if name == "cost":
        c = summary.cost
        return Table(
            name,
            ["figure", "count", "amount", "currency"],
            [
                ["labels", c.labels, major(c.label_cost), cur],
                ["processing", c.processed, major(c.processing_cost), cur],
                ["processing_each", None, major(c.processing_each), cur],
                ["total", c.returns, major(c.total), cur],
                ["per_return", None, major(c.per_return), cur],
            ],
        )
    if name == "fraud":
        f = summary.fraud
        body = [[f"signal:{signal}", n, None, None] for signal, n in f.signals]
        body += [
            ["sent_to_review", f.reviewed, major(f.reviewed_value), cur],
            ["approved_after_review", f.approved, None, None],
            ["rejected_after_review", f.rejected, major(f.rejected_value), cur],
            ["contradicted_by_inspection", f.contradicted, major(f.contradicted_deductions), cur],
            ["contradicted_and_reviewed", f.contradicted_reviewed, None, None],
        ]
        body += [[f"adjustment:{a.key}", a.count, major(a.amount), cur] for a in f.adjustments]
        body.append(["held_back", None, major(f.held_back), cur])
        return Table(name, ["figure", "returns", "amount", "currency"], body)
    if name == "warnings":
        return replace(defects_table(summary.warnings), name=name)
    raise ValueError(f"no table {name}: one of {', '.join(SUMMARY_TABLES)}")


def _cell(value: Cell) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_lines(table: Table) -> Iterator[str]:
    """The table as CSV, a line at a time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header: list[Cell] = list(table.columns)
    for row in [header, *table.rows]:
        writer.writerow([_cell(v) for v in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
