from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from returndesk.policies.diff import (
    MISSING,
    Change,
    LabelledField,
    document_changes,
    json_path,
    readable_changes,
    unified_json_diff,
    value_at,
)
from returndesk.policies.document import default_policy

FIELDS = [
    LabelledField("window_days", "Return window", "days"),
    LabelledField("resolutions.exchange", "Exchange offered", "flag"),
    LabelledField("fees.restocking_percent", "Restocking fee", "percent"),
    LabelledField("fees.return_shipping_fee", "Return shipping fee", "money"),
    LabelledField("auto_approval.max_order_value", "Auto-approve up to", "money"),
    LabelledField("non_returnable_categories", "Never returnable", "list"),
]


def dollars(amount: int) -> str:
    return f"${amount / 100:.2f}"


def default() -> dict[str, Any]:
    return default_policy().model_dump(mode="json")


def test_it_words_the_common_fields_that_changed() -> None:
    before, after = default(), default()
    after["window_days"] = 45
    after["resolutions"]["exchange"] = True
    after["fees"]["restocking_percent"] = 12.5
    after["fees"]["return_shipping_fee"] = 595
    after["auto_approval"]["max_order_value"] = 20000
    after["non_returnable_categories"] = ["underwear", "gift cards"]
    worded = [
        (c.label, c.before, c.after) for c in readable_changes(before, after, FIELDS, money=dollars)
    ]
    assert worded == [
        ("Return window", "30 days", "45 days"),
        ("Exchange offered", "no", "yes"),
        ("Restocking fee", "0 %", "12.5 %"),
        ("Return shipping fee", "$0.00", "$5.95"),
        ("Auto-approve up to", "no limit", "$200.00"),
        ("Never returnable", "none", "underwear, gift cards"),
    ]


def test_equal_documents_have_no_changes_and_an_empty_diff() -> None:
    assert document_changes(default(), default()) == []
    assert readable_changes(default(), default(), FIELDS, money=dollars) == []
    assert unified_json_diff(default(), default()) == ""


def test_changes_name_nested_paths_and_keys_only_one_side_has() -> None:
    before, after = default(), default()
    after["fees"]["restocking_percent_by_category"] = {"shoes": 10}
    after["statutory_minimum_days"].pop("GB")
    after["reasons"][0]["label"] = "Changed mind"
    changes = document_changes(before, after)
    assert Change("statutory_minimum_days.GB", 14, MISSING) in changes
    assert Change("fees.restocking_percent_by_category.shoes", MISSING, 10) in changes
    assert [c.path for c in changes if c.path == "reasons"] == ["reasons"]  # lists whole
    assert len(changes) == 3


def test_a_flag_is_not_a_number() -> None:
    assert document_changes({"a": True}, {"a": 1}) == [Change("a", True, 1)]
    assert document_changes({"a": 30}, {"a": 30.0}) == []


def test_the_unified_diff_shows_the_changed_lines_with_context() -> None:
    before, after = default(), default()
    after["days_to_ship"] = 21
    diff = unified_json_diff(before, after)
    assert diff.startswith("--- current\n+++ draft\n@@")
    assert '-  "days_to_ship": 14,' in diff.splitlines()
    assert '+  "days_to_ship": 21,' in diff.splitlines()
    assert '"window_days"' not in diff  # far from the change


def test_paths_and_lookups() -> None:
    assert json_path(["reasons", 0, "code"]) == "reasons[0].code"
    assert json_path([]) == ""
    assert value_at(default(), "fees.restocking_percent") == 0
    assert value_at(default(), "fees.nothing") is MISSING
    assert value_at(default(), "window_days.deeper") is MISSING


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
documents = st.dictionaries(st.text(max_size=4), json_values, max_size=6)


def apply(document: dict[str, Any], changes: list[Change]) -> dict[str, Any]:
    """Replay changes onto a document (paths here never hold dots or brackets)."""
    out = copy.deepcopy(document)
    for change in changes:
        *parents, last = change.path.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        if change.after is MISSING:
            del target[last]
        else:
            target[last] = change.after
    return out


plain_keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_keys, inner, max_size=3),
    max_leaves=10,
)
plain_documents = st.dictionaries(plain_keys, plain_values, max_size=5)


@given(plain_documents, plain_documents)
def test_replaying_the_changes_turns_one_document_into_the_other(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    changes = document_changes(before, after)
    assert json.dumps(apply(before, changes), sort_keys=True) == json.dumps(after, sort_keys=True)
    assert (changes == []) == (
        json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)
    )


@given(documents, documents)
def test_the_diff_is_empty_exactly_when_the_documents_print_the_same(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    same = json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)
    assert (unified_json_diff(before, after) == "") == same


@given(plain_documents, plain_documents)
def test_every_change_names_a_path_whose_values_differ(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    for change in document_changes(before, after):
        assert value_at(before, change.path) == change.before or change.before is MISSING
        assert value_at(after, change.path) == change.after or change.after is MISSING
