from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from returndesk.catalog.importing.base import BloomFilter


@given(st.sets(st.text(min_size=1, max_size=12), max_size=300))
def test_a_key_added_is_always_found(keys: set[str]) -> None:
    seen = BloomFilter(size_bytes=4096)
    for key in keys:
        seen.add(key)
    assert all(key in seen for key in keys)


def test_false_positives_are_rare_at_the_importers_size() -> None:
    seen = BloomFilter()
    for n in range(50_000):
        seen.add(f"{500000 + n}")
    false_hits = sum(f"x{n}" in seen for n in range(50_000))
    assert false_hits == 0
