"""The RAN as a QR code (segno) and a Code128 barcode (core/barcodes.py), as inline SVG.

Both carry the 13 symbols of the RAN without hyphens, which scanners read back exactly and
`parse_ran` accepts. The SVG uses presentation attributes only, never `style`, so the page's
Content-Security-Policy (no inline styles) does not blank it.
"""

from __future__ import annotations

import segno
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from returndesk.core.barcodes import code128_modules

QUIET_MODULES = 10  # Code128 wants a quiet zone of ten modules on each side


def qr_svg(ran: str, *, title: str) -> SafeString:
    code = segno.make(ran, error="m", micro=False)  # segno escapes the title itself
    svg = code.svg_inline(
        scale=5, border=4, light="#fff", title=title, svgclass="qr", lineclass=None
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S308 - built here


def code128_svg(ran: str, *, title: str, height: int = 60) -> SafeString:
    modules = code128_modules(ran)
    width = len(modules) + 2 * QUIET_MODULES
    bars = []
    x = 0
    while x < len(modules):
        if modules[x] == "1":
            start = x
            while x < len(modules) and modules[x] == "1":
                x += 1
            bars.append(f"M{start + QUIET_MODULES} 0h{x - start}v{height}h-{x - start}z")
        else:
            x += 1
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="barcode" '
        f'viewBox="0 0 {width} {height}" width="{width * 2}" height="{height}" '
        # The bars stretch evenly to the width the page gives; each keeps its proportion.
        f'preserveAspectRatio="none">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(bars)}"/></svg>'
    )
    return mark_safe(svg)  # noqa: S308 - built here from the barcode's modules
