"""The RAN's QR code and Code128 barcode scan back to the RAN."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw

from returndesk.core.codes import generate_ran, parse_ran
from returndesk.portal.symbols import code128_svg, qr_svg

zxingcpp = pytest.importorskip("zxingcpp")


def _barcode_image(svg: str) -> Image.Image:
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())  # type: ignore[union-attr]
    scale = 3
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, w in re.findall(r"M(\d+) 0h(\d+)v", svg):
        left = int(x) * scale
        draw.rectangle([left, 0, left + int(w) * scale - 1, height * scale], fill=0)
    return image


def _qr_image(svg: str) -> Image.Image:
    """Draw the path segno wrote: `M x y` to start, `m dx dy` to move, `h n` for dark runs."""
    side = int(re.search(r'width="(\d+)"', svg).group(1)) // 5  # type: ignore[union-attr]
    scale = 6
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    path = re.search(r'stroke="#000" d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            run = float(a)
            top = int((y - 0.5) * scale)
            draw.rectangle(
                [int(x * scale), top, int((x + run) * scale) - 1, top + scale - 1], fill=0
            )
            x += run
    return image


@pytest.mark.parametrize("_", range(5))
def test_the_barcode_reads_back_as_the_ran(_: int) -> None:
    ran = generate_ran()
    results = zxingcpp.read_barcodes(_barcode_image(code128_svg(ran, title="t")))
    assert [r.text for r in results] == [ran]
    assert parse_ran(results[0].text) == ran


@pytest.mark.parametrize("_", range(5))
def test_the_qr_code_reads_back_as_the_ran(_: int) -> None:
    ran = generate_ran()
    results = zxingcpp.read_barcodes(_qr_image(qr_svg(ran, title="t")))
    assert [r.text for r in results] == [ran]


def test_the_svg_has_no_inline_style_for_the_csp_to_block() -> None:
    for svg in (qr_svg("RKQ4M2XD9TPHD", title="x"), code128_svg("RKQ4M2XD9TPHD", title="x")):
        assert "style" not in svg and 'role="img"' in svg and "<title>x</title>" in svg
