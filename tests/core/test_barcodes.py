"""Code 128 modules decode back to the value, including values that start with digit pairs
(python-barcode dropped those; a RAN such as 99FVTCHQWMA0V was read as FVTCHQWMA0V)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from returndesk.core.barcodes import code128_modules
from returndesk.core.codes import ALPHABET, generate_ran

zxingcpp = pytest.importorskip("zxingcpp")


def read(modules: str) -> list[str]:
    scale, quiet = 3, 10
    width = (len(modules) + 2 * quiet) * scale
    image = Image.new("L", (width, 60), 255)
    draw = ImageDraw.Draw(image)
    for i, module in enumerate(modules):
        if module == "1":
            left = (i + quiet) * scale
            draw.rectangle([left, 0, left + scale - 1, 59], fill=0)
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize(
    "value", ["99FVTCHQWMA0V", "12345678ABCDE", "AB12CD3456789", "LP00123456789"]
)
def test_digit_runs_survive(value: str) -> None:
    assert read(code128_modules(value)) == [value]


@settings(max_examples=200)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=24))
def test_any_code_of_our_alphabet_reads_back(value: str) -> None:
    assert read(code128_modules(value)) == [value]


def test_random_rans_read_back() -> None:
    for _ in range(50):
        ran = generate_ran()
        assert read(code128_modules(ran)) == [ran]
