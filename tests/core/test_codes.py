from __future__ import annotations

import random
import re
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.core import codes
from returndesk.core.codes import (
    ALPHABET,
    RanInvalid,
    format_ran,
    generate_ran,
    is_valid_ran,
    normalize_ran,
    parse_ran,
    ran_check_symbol,
)
from returndesk.core.ids import CROCKFORD

TABLE = codes._QUASIGROUP
SYMBOLS = range(32)
FORMATTED = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]")


def op(x: int, y: int) -> int:
    return TABLE[x][y]


def random_payloads(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(12)) for _ in range(count)]


# Edge payloads next to random ones: a constant payload leaves only the pair with the check
# symbol to swap, the case a check built without care tends to miss.
PAYLOADS = [
    "000000000000",
    "ZZZZZZZZZZZZ",
    "0123456789AB",
    "RKQ4M2XD9TPH",
    *random_payloads(256, 1),
]
CODES = [payload + ran_check_symbol(payload) for payload in PAYLOADS]

payloads = st.text(alphabet=ALPHABET, min_size=12, max_size=12)


# --- The construction, checked rather than trusted -------------------------------------------


def test_the_alphabet_is_crockford_base32_as_used_for_public_ids() -> None:
    assert ALPHABET == CROCKFORD
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_x5_x2_1_is_primitive_so_gf32_is_a_field() -> None:
    powers = [1]
    for _ in range(30):
        powers.append(codes._gf32_multiply(powers[-1], 2))
    assert sorted(powers) == list(range(1, 32))
    assert codes._gf32_multiply(powers[-1], 2) == 1


def test_the_table_is_2x_xor_y_computed_independently() -> None:
    def times_two(x: int) -> int:
        shifted = x << 1
        return shifted ^ 0b100101 if shifted & 0b100000 else shifted

    assert tuple(tuple(times_two(x) ^ y for y in SYMBOLS) for x in SYMBOLS) == TABLE


def test_the_table_is_a_latin_square() -> None:
    for row in TABLE:
        assert sorted(row) == list(SYMBOLS)
    for y in SYMBOLS:
        assert sorted(TABLE[x][y] for x in SYMBOLS) == list(SYMBOLS)


def test_the_table_is_totally_anti_symmetric() -> None:
    for c, x, y in product(SYMBOLS, SYMBOLS, SYMBOLS):
        if x != y:
            assert op(op(c, x), y) != op(op(c, y), x), (c, x, y)


def test_known_check_symbols() -> None:
    # Pinned so that a change to the polynomial or multiplier, which would invalidate every RAN
    # already printed on a label, cannot pass unnoticed.
    assert ran_check_symbol("000000000000") == "0"
    assert ran_check_symbol("RKQ4M2XD9TPH") == "D"
    assert ran_check_symbol("0123456789AB") == "V"
    assert parse_ran("RKQ4-M2XD-9TPH-D") == "RKQ4M2XD9TPHD"


# --- Error detection, exhaustively over many codes -------------------------------------------


def test_every_code_folds_to_zero_and_is_valid() -> None:
    for code in CODES:
        interim = 0
        for symbol in code:
            interim = op(interim, ALPHABET.index(symbol))
        assert interim == 0, code
        assert is_valid_ran(code), code


def test_every_single_substitution_is_detected() -> None:
    checked = 0
    for code in CODES:
        for position, original in enumerate(code):
            for symbol in ALPHABET:
                if symbol != original:
                    assert not is_valid_ran(code[:position] + symbol + code[position + 1 :]), (
                        code,
                        position,
                        symbol,
                    )
                    checked += 1
    assert checked == len(CODES) * 13 * 31


def test_every_adjacent_transposition_is_detected() -> None:
    checked = 0
    for code in CODES:
        for i in range(12):  # pair (11, 12) swaps the last payload symbol with the check symbol
            a, b = code[i], code[i + 1]
            if a != b:
                assert not is_valid_ran(code[:i] + b + a + code[i + 2 :]), (code, i)
                checked += 1
    # Random codes rarely repeat a neighbour, so nearly all 12 pairs per code were swapped.
    assert checked > len(CODES) * 11


def test_a_transposition_with_the_check_symbol_is_detected() -> None:
    payload = "000000000000"
    for last in ALPHABET:
        code = payload[:-1] + last + ran_check_symbol(payload[:-1] + last)
        if code[11] != code[12]:
            assert not is_valid_ran(code[:11] + code[12] + code[11])


# --- Normalization ---------------------------------------------------------------------------


def test_it_accepts_any_case_hyphens_and_spaces() -> None:
    canonical = "RKQ4M2XD9TPHD"
    for text in [
        "RKQ4M2XD9TPHD",
        "rkq4m2xd9tphd",
        "rkq4-M2xd-9TPH-d",
        "RKQ4 M2XD 9TPH D",
        "  RKQ4-M2XD - 9TPH-D\n",
        "R-K-Q-4-M-2-X-D-9-T-P-H-D",
        "RKQ4\u2010M2XD\u20119TPH\u00a0D",
    ]:
        assert normalize_ran(text) == canonical, text
        assert parse_ran(text) == canonical, text


def test_i_and_l_read_as_one_and_o_as_zero() -> None:
    code = "1001" + "ABCDEFGH" + "X"
    code = code[:12] + ran_check_symbol(code[:12])
    assert parse_ran("IOOL-ABCD-EFGH-" + code[12]) == code
    assert parse_ran("ioo" + "l" + code[4:].lower()) == code
    assert normalize_ran("OOOO-IIII-LLLL-O") == "0000111111110"


@pytest.mark.parametrize("text", ["RKQ4-M2XD-9TPU-D", "ukq4m2xd9tphd"])
def test_u_is_refused_and_named(text: str) -> None:
    with pytest.raises(RanInvalid, match=r"'[Uu]' is not a character used in return numbers"):
        normalize_ran(text)


@pytest.mark.parametrize(
    "text",
    [
        "RKQ4-M2XD-9TPH-D!",
        "RKQ4_M2XD_9TPH_D",
        "RKQ4.M2XD.9TPH.D",
        "RKQ4-M2XD-9TPH-\u0131",  # dotless i upper-cases to I
        "RKQ4-M2XD-9TPH-\uff24",  # fullwidth D
        "RKQ4-M2XD-9TPH\u2013D",  # en dash is not a hyphen
    ],
)
def test_other_characters_are_refused(text: str) -> None:
    with pytest.raises(RanInvalid, match="is not a character used in return numbers"):
        normalize_ran(text)


def test_an_unprintable_character_is_named_by_its_code_point() -> None:
    with pytest.raises(RanInvalid, match=r"U\+0000 is not a character"):
        normalize_ran("RKQ4-M2XD-9TPH\x00D")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("RKQ4-M2XD-9T", "this has 10"),
        ("RKQ4-M2XD-9TPH", "this has 12"),
        ("RKQ4-M2XD-9TPH-DD", "this has 14"),
        ("RKQ4M2XD9TPHD" * 2, "this has 26"),
        ("", "this is empty"),
        (" - ", "this is empty"),
    ],
)
def test_wrong_lengths_are_refused_naming_the_length(text: str, found: str) -> None:
    with pytest.raises(RanInvalid, match=f"^a return number has 13 characters; {found}$"):
        normalize_ran(text)


def test_the_error_is_an_application_error_on_the_ran_field() -> None:
    with pytest.raises(RanInvalid) as caught:
        parse_ran("rkq4 m2xd 9tph 8")
    error = caught.value
    assert (error.code, error.status, error.title) == ("ran_invalid", 422, "Invalid RAN")
    assert error.detail == "RKQ4-M2XD-9TPH-8 is not a valid return number: a character is mistyped"
    assert [(e.field, e.message) for e in error.errors] == [("ran", "a character is mistyped")]

    with pytest.raises(RanInvalid) as caught:
        parse_ran("RKQ4-M2XD-9TP")
    assert caught.value.detail == "a return number has 13 characters; this has 11"
    assert caught.value.errors[0].field == "ran"


def test_check_symbol_refuses_a_malformed_payload() -> None:
    for payload in ["", "RKQ4M2XD9TP", "RKQ4M2XD9TPHD", "rkq4m2xd9tph", "RKQ4-M2XD-9T"]:
        with pytest.raises(ValueError, match="12 normalized symbols"):
            ran_check_symbol(payload)


# --- Generation, formatting, round trips -----------------------------------------------------


def test_generated_codes_are_valid_and_distinct() -> None:
    generated = [generate_ran() for _ in range(10_000)]
    assert len(set(generated)) == 10_000
    for code in generated:
        assert len(code) == 13
        assert set(code) <= set(ALPHABET)
        assert is_valid_ran(code)
    # Every symbol turns up in every payload position: the 60 bits all reach the code.
    for position in range(12):
        assert {code[position] for code in generated} == set(ALPHABET)


def test_format_groups_4_4_4_1() -> None:
    assert format_ran("RKQ4M2XD9TPHD") == "RKQ4-M2XD-9TPH-D"
    assert format_ran("rkq4 m2xd 9tph d") == "RKQ4-M2XD-9TPH-D"


@given(payloads)
def test_format_and_parse_round_trip(payload: str) -> None:
    code = payload + ran_check_symbol(payload)
    formatted = format_ran(code)
    assert FORMATTED.fullmatch(formatted)
    assert parse_ran(formatted) == code
    assert parse_ran(formatted.lower()) == code
    assert parse_ran(formatted.replace("-", " ")) == code
    assert format_ran(parse_ran(formatted)) == formatted


@given(payloads, st.data())
def test_separators_and_case_anywhere_do_not_matter(payload: str, data: st.DataObject) -> None:
    code = payload + ran_check_symbol(payload)
    typed = ""
    for symbol in code:
        typed += data.draw(st.sampled_from(["", "", " ", "-", " - "]))
        typed += data.draw(st.sampled_from([symbol, symbol.lower()]))
    assert parse_ran(typed) == code


@given(st.text())
def test_any_text_is_either_a_valid_ran_or_refused_cleanly(text: str) -> None:
    try:
        code = parse_ran(text)
    except RanInvalid as error:
        assert error.errors and error.errors[0].field == "ran"
        assert not is_valid_ran(text)
    else:
        assert len(code) == 13
        assert is_valid_ran(text)
