"""Code 128 as a row of modules ("1" a bar, "0" a space) for drawing on any surface (SVG in the
portal, the dot grid of a thermal tag).

The encoding is reportlab's, the same one the shipping label prints. python-barcode 0.16 loses
the leading digit pair of a value such as "99FV..." (it starts in code set C, then switches
to B before writing the pair), so a scanner read "FV..." from a RAN that starts with two
digits; a test decodes values of that shape.
"""

from __future__ import annotations

from reportlab.graphics.barcode.code128 import Code128


def code128_modules(value: str) -> str:
    """The modules of `value`, start and stop codes and check symbol included, no quiet zone."""
    symbol = Code128(value, quiet=0)
    symbol.validate()
    symbol.encode()
    symbol.decompose()
    # reportlab writes each element as a letter: upper case a bar, lower case a space, A..D the
    # width in modules.
    return "".join(
        ("1" if part.isupper() else "0") * (ord(part.upper()) - ord("A") + 1)
        for part in symbol.decomposed
    )
