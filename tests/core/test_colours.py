from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.core.colours import DARK, LIGHT, contrast, readable_on

colours = st.integers(0, 0xFFFFFF).map(lambda n: f"#{n:06X}")


@given(colours)
def test_the_chosen_text_colour_always_reaches_wcag_aa(bg: str) -> None:
    # Black or white: on every colour one of them reaches at least 4.58:1 (the worst case has
    # a relative luminance of about 0.18), so WCAG AA for normal text holds for any brand.
    assert contrast(readable_on(bg), bg) >= 4.5


def test_known_colours() -> None:
    assert readable_on("#1F6FEB") == LIGHT
    assert readable_on("#FFD400") == DARK
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)


def test_a_malformed_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="RRGGBB"):
        readable_on("#12345")
