"""The statistics behind the analytics figures. Pure: no Django, no floats near money.

- `binomial_sf(k, n, p)`: P(X >= k) for X ~ Binomial(n, p), summed term by term from the exact
  binomial coefficients (`math.comb`) in log space, so nothing underflows and nothing is
  approximated by a normal curve.
- `smoothed_rate`: a SKU's baseline defect rate pulled towards its category's rate: the mean of
  the beta posterior with a prior of `strength` pseudo-units at the category rate.
- `early_warning`: the fixed test of issue 9 (docs/decisions/0015-analytics.md).
- Cycle times are kept as counts and sums of seconds per duration bucket (`duration_bucket`);
  `percentile` reads a percentile from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

# The early warning (issue 9): the window, the baseline before it, and the bars.
WINDOW_DAYS = 14
BASELINE_DAYS = 90
P_VALUE_BAR = 0.01
MIN_DEFECTS = 5
MIN_INSPECTED = 20
# The category prior's weight in the smoothed baseline, in inspected units: a SKU with 20
# inspected units in its baseline counts half its own rate and half its category's.
PRIOR_STRENGTH = 20

Rate = Fraction


def binomial_sf(k: int, n: int, p: float | Fraction) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of seeing k or more.

    Each term C(n, i) p^i (1-p)^(n-i) for i = k..n is taken in log space (the first
    coefficient as an exact integer, then its logarithm; the next by the exact ratio of
    successive coefficients) and the terms are added relative to the largest, so the tail is
    right to about 1e-12 relative however small it is."""
    if n < 0:
        raise ValueError("n is a count, 0 or more")
    if not 0 <= p <= 1:
        raise ValueError("p is a probability, 0 to 1")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p == 0:
        return 0.0
    if p == 1:
        return 1.0
    log_p = math.log(p)
    log_q = math.log1p(-float(p)) if not isinstance(p, Fraction) else math.log(1 - p)
    # the first term from the exact coefficient; each next one by the exact ratio
    # C(n, i + 1) / C(n, i) = (n - i) / (i + 1), so a tail of m terms costs one big integer
    logs = [math.log(math.comb(n, k)) + k * log_p + (n - k) * log_q]
    step = log_p - log_q
    for i in range(k, n):
        logs.append(logs[-1] + math.log((n - i) / (i + 1)) + step)
    top = max(logs)
    total = math.fsum(math.exp(value - top) for value in logs)
    return min(1.0, math.exp(top) * total)


def rate(part: int, whole: int) -> Fraction | None:
    """part / whole, exactly; None when there is nothing to divide by."""
    return Fraction(part, whole) if whole else None


def smoothed_rate(
    events: int, trials: int, prior_rate: Fraction, strength: int = PRIOR_STRENGTH
) -> Fraction:
    """(events + strength x prior_rate) / (trials + strength): the posterior mean of a rate
    under a Beta(strength x prior_rate, strength x (1 - prior_rate)) prior. With no trials it is
    the prior rate; with many it tends to events / trials."""
    if trials + strength == 0:
        return prior_rate
    return (events + strength * prior_rate) / (trials + strength)


@dataclass(frozen=True)
class Counts:
    """Defective units out of inspected units."""

    defective: int
    inspected: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.defective + other.defective, self.inspected + other.inspected)

    @property
    def rate(self) -> Fraction | None:
        return rate(self.defective, self.inspected)


@dataclass(frozen=True)
class DefectWarning:
    """The early warning's figures for one SKU, flagged or not."""

    window: Counts
    baseline: Counts
    category_rate: Fraction  # the category's baseline rate (the prior's centre)
    expected_rate: Fraction  # the SKU's baseline smoothed towards the category
    p_value: float | None  # None: not tested (too few units or defects, or no rise)
    flagged: bool


def early_warning(window: Counts, baseline: Counts, category_rate: Fraction) -> DefectWarning:
    """Flag a SKU whose defect rate over the window exceeds its smoothed baseline with a
    one-sided binomial p-value below P_VALUE_BAR, given at least MIN_DEFECTS defective units
    and MIN_INSPECTED inspected units in the window. The p-value is computed only for a SKU
    that meets both minimums and whose rate rose (the others cannot be flagged)."""
    expected = smoothed_rate(baseline.defective, baseline.inspected, category_rate)
    observed = window.rate
    tested = (
        window.defective >= MIN_DEFECTS
        and window.inspected >= MIN_INSPECTED
        and observed is not None
        and observed > expected
    )
    p_value = binomial_sf(window.defective, window.inspected, expected) if tested else None
    flagged = p_value is not None and p_value < P_VALUE_BAR
    return DefectWarning(window, baseline, category_rate, expected, p_value, flagged)


# --- cycle times ---------------------------------------------------------------------------

HOUR = 3600
DAY = 24 * HOUR
# (below this many seconds, buckets this wide): an hour's precision for the first two days, six
# hours' to two weeks, a day's to 90 days, a week's beyond.
BUCKETS: tuple[tuple[int, int], ...] = (
    (2 * DAY, HOUR),
    (14 * DAY, 6 * HOUR),
    (90 * DAY, DAY),
)
LONG_BUCKET = 7 * DAY


def duration_bucket(seconds: int) -> int:
    """The lower bound, in seconds, of the bucket a duration falls in."""
    if seconds < 0:
        raise ValueError("a duration is 0 seconds or more")
    start = 0
    for below, width in BUCKETS:
        if seconds < below:
            return start + (seconds - start) // width * width
        start = below
    return start + (seconds - start) // LONG_BUCKET * LONG_BUCKET


def percentile(buckets: Sequence[tuple[int, int, int]], q: Fraction) -> Fraction | None:
    """The q-quantile (0..1) of the durations kept as (lower bound, count, sum of seconds) per
    bucket, interpolated linearly between order statistics as PostgreSQL's percentile_cont and
    numpy's default do, with each duration taken as its bucket's mean. Exact when the durations
    of a bucket are equal; otherwise within the bucket's width. None with no durations."""
    ordered = sorted((lower, count, total) for lower, count, total in buckets if count > 0)
    size = sum(count for _, count, _ in ordered)
    if size == 0:
        return None
    position = (size - 1) * q
    low = math.floor(position)
    fraction = position - low

    def value_at(index: int) -> Fraction:
        for _, count, total in ordered:
            if index < count:
                return Fraction(total, count)
            index -= count
        raise IndexError(index)

    first = value_at(low)
    if fraction == 0:
        return first
    return first + fraction * (value_at(low + 1) - first)
