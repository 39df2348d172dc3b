"""Return Authorization Numbers (RANs): 12 random Crockford base32 symbols (60 bits) and a check
symbol, printed 4-4-4-1 like `RKQ4-M2XD-9TPH-D`. Pure: standard library only, no Django.

The check is Damm's over the quasigroup x∘y = 2x ⊕ y in GF(32). Each row and column is a
permutation, so any single substitution changes the result; and (c∘x)∘y = (c∘y)∘x forces
3x = 3y, hence x = y, so swapping two adjacent different symbols (the check included) is caught.
"""

from __future__ import annotations

import secrets

from returndesk.core.errors import ApplicationError, FieldError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PAYLOAD_LENGTH = 12
LENGTH = PAYLOAD_LENGTH + 1

# x^5 + x^2 + 1 is primitive, so GF(32) built on it is a field and multiplying by 2 is a
# bijection; the tests check this rather than trusting it.
_POLYNOMIAL = 0b100101
_MULTIPLIER = 2


def _gf32_multiply(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0b100000:
            a ^= _POLYNOMIAL
    return product


_QUASIGROUP: tuple[tuple[int, ...], ...] = tuple(
    tuple(_gf32_multiply(_MULTIPLIER, x) ^ y for y in range(32)) for x in range(32)
)
# The row is a permutation, so exactly one symbol brings each interim back to 0.
_CLOSING_SYMBOL: tuple[int, ...] = tuple(row.index(0) for row in _QUASIGROUP)

_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Only ASCII letters are folded: str.upper() would turn U+0131 (dotless i) into "I" and U+FB00
# (the ff ligature) into "FF", letting look-alikes through or changing the length.
_READS_AS = (
    {symbol: symbol for symbol in ALPHABET}
    | {symbol.lower(): symbol for symbol in ALPHABET}
    | {"I": "1", "i": "1", "L": "1", "l": "1", "O": "0", "o": "0"}
)
# Codes are read off printed slips and PDFs, which set hyphens as U+2010/U+2011.
_HYPHENS = frozenset("-\u2010\u2011")


class RanInvalid(ApplicationError):
    code = "ran_invalid"
    status = 422
    title = "Invalid RAN"


def _invalid(reason: str, *, detail: str | None = None) -> RanInvalid:
    return RanInvalid(detail or reason, errors=[FieldError("ran", reason)])


def _shown(char: str) -> str:
    return f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"


def _fold(symbols: str) -> int:
    interim = 0
    for symbol in symbols:
        interim = _QUASIGROUP[interim][_VALUE[symbol]]
    return interim


def ran_check_symbol(payload: str) -> str:
    """The check symbol for 12 normalized payload symbols."""
    if len(payload) != PAYLOAD_LENGTH or not all(symbol in _VALUE for symbol in payload):
        # A caller's bug, not a user's typo: payloads come from generate_ran or normalize_ran.
        raise ValueError(f"a RAN payload is {PAYLOAD_LENGTH} normalized symbols, not {payload!r}")
    return ALPHABET[_CLOSING_SYMBOL[_fold(payload)]]


def generate_ran() -> str:
    """A new RAN, 13 symbols, unformatted."""
    bits = secrets.randbits(5 * PAYLOAD_LENGTH)
    payload = "".join(ALPHABET[(bits >> (5 * i)) & 0b11111] for i in range(PAYLOAD_LENGTH))
    return payload + ran_check_symbol(payload)


def normalize_ran(text: str) -> str:
    """The 13 symbols of `text`, upper case without separators; the check is not verified."""
    symbols = []
    for char in text:
        if char in _HYPHENS or char.isspace():
            continue
        symbol = _READS_AS.get(char)
        if symbol is None:
            raise _invalid(f"{_shown(char)} is not a character used in return numbers")
        symbols.append(symbol)
    if len(symbols) != LENGTH:
        found = f"this has {len(symbols)}" if symbols else "this is empty"
        raise _invalid(f"a return number has {LENGTH} characters; {found}")
    return "".join(symbols)


def parse_ran(text: str) -> str:
    """The canonical 13-symbol form of a typed RAN, or RanInvalid."""
    code = normalize_ran(text)
    if _fold(code) != 0:
        raise _invalid(
            "a character is mistyped",
            detail=f"{format_ran(code)} is not a valid return number: a character is mistyped",
        )
    return code


def is_valid_ran(text: str) -> bool:
    try:
        parse_ran(text)
    except RanInvalid:
        return False
    return True


def format_ran(code: str) -> str:
    """`RKQ4-M2XD-9TPH-D` for display. Normalizes but does not verify the check, so that an error
    message can show a mistyped code the way it is printed."""
    code = normalize_ran(code)
    return f"{code[0:4]}-{code[4:8]}-{code[8:12]}-{code[12]}"
