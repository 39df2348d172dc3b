"""Daily rollups of the figures, per merchant and local day (the merchant's time zone), and the
state that keeps them fresh (docs/decisions/0015-analytics.md, "Rollups").

The rollups are derived data: `rollups.py` rebuilds any day from the recorded rows, so a row here
is never edited by hand and a lost table is rebuilt with `returndesk analytics-refresh --full`.
Money columns are integer minor units of the merchant's currency (rows in another currency are
not counted; an order or return is in its merchant's currency).

Which day a row belongs to depends on the measure, and is said where it is stored:
sales by the order's placed day, returns (and everything that happens to a return: its cycle,
disposition, money and fraud figures) by the day the return was requested, inspections by the
day they were made.
"""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel

# Each rollup has a day table and a month table with the same columns: the month table holds
# the day rows of each calendar month summed, rewritten whenever a day of the month is
# (`rollups.month_rollup`), so a long range reads a row per month and key instead of one per
# day (`selectors._split`: whole months from the month tables, the days at either end from the
# day tables). The columns are declared once, in the abstract bases below.


def _unique(name: str, *keys: str) -> list[models.BaseConstraint]:
    return [models.UniqueConstraint(fields=["merchant", *keys], name=name)]


class SkuCounts(MerchantOwnedModel):
    """Units and value sold (orders placed that day) and returned (returns requested that day)
    of one SKU: the return rate per SKU and, through the product, per category."""

    sku = models.CharField(max_length=64)
    sold_lines = models.BigIntegerField(default=0)
    sold_units = models.BigIntegerField(default=0)
    sold_value = models.BigIntegerField(default=0)  # unit price x units - line discount
    returned_lines = models.BigIntegerField(default=0)
    returned_units = models.BigIntegerField(default=0)
    returned_value = models.BigIntegerField(default=0)  # the return lines' value

    class Meta:
        abstract = True


class ReturnCounts(MerchantOwnedModel):
    """Return lines requested, by reason and channel."""

    reason = models.CharField(max_length=50)
    channel = models.CharField(max_length=20)
    lines = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)
    value = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class InspectionCounts(MerchantOwnedModel):
    """Units inspected of one SKU, those with at least one defect, and the defects. The SKU's
    category is copied from its product when the day is built, so the early warning reads
    category rates without a join (a product moved to another category shows there after the
    next full rebuild)."""

    sku = models.CharField(max_length=64)
    category = models.CharField(max_length=100, blank=True)
    inspected_units = models.BigIntegerField(default=0)
    defective_units = models.BigIntegerField(default=0)
    defects = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class FigureValues(MerchantOwnedModel):
    """Everything else, one row per (figure, key): what `n` and `a`..`d` hold for each figure
    is listed in `rollups.FIGURES`."""

    figure = models.CharField(max_length=20)
    key = models.CharField(max_length=80, blank=True)
    n = models.BigIntegerField(default=0)
    a = models.BigIntegerField(default=0)
    b = models.BigIntegerField(default=0)
    c = models.BigIntegerField(default=0)
    d = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class SkuDay(SkuCounts):
    day = models.DateField()

    class Meta:
        constraints = _unique("analytics_sku_day", "day", "sku")


class SkuMonth(SkuCounts):
    month = models.DateField()  # the first day of the month

    class Meta:
        constraints = _unique("analytics_sku_month", "month", "sku")


class ReturnDay(ReturnCounts):
    day = models.DateField()

    class Meta:
        constraints = _unique("analytics_return_day", "day", "reason", "channel")


class ReturnMonth(ReturnCounts):
    month = models.DateField()

    class Meta:
        constraints = _unique("analytics_return_month", "month", "reason", "channel")


class InspectionDay(InspectionCounts):
    day = models.DateField()

    class Meta:
        constraints = _unique("analytics_inspection_day", "day", "sku")


class InspectionMonth(InspectionCounts):
    month = models.DateField()

    class Meta:
        constraints = _unique("analytics_inspection_month", "month", "sku")


class DailyFigure(FigureValues):
    day = models.DateField()

    class Meta:
        constraints = _unique("analytics_daily_figure", "day", "figure", "key")


class MonthFigure(FigureValues):
    month = models.DateField()

    class Meta:
        constraints = _unique("analytics_month_figure", "month", "figure", "key")


class RollupState(MerchantOwnedModel):
    """When a merchant's rollups were built in full and last brought up to date; its row is the
    lock that keeps two refreshes of one merchant from interleaving."""

    built_at = models.DateTimeField(null=True, blank=True)  # the last full build
    refreshed_at = models.DateTimeField(null=True, blank=True)  # the last refresh of any kind
    days_refreshed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="analytics_state_per_merchant")
        ]


class RollupCursor(models.Model):
    """How far the refresh has read a source, across merchants: the last id (return events,
    store credit entries) or the time (orders, by `updated_at`) it has taken into account."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    position_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class AnalyticsSettings(MerchantOwnedModel):
    """A merchant's analytics settings; a merchant without a row uses the defaults
    (`selectors.analytics_settings_for`)."""

    # What handling one received return costs the merchant (receiving, inspection, put-away),
    # in minor units of its currency: the processing part of the cost per return.
    processing_cost_amount = models.BigIntegerField(default=350)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="analytics_settings_per_merchant")
        ]
