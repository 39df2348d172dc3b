"""What changed between two policy documents, said for people. Pure: no Django.

Documents are the JSON form of `PolicyDocument` (plain dicts, lists, numbers and strings).
`document_changes` lists every value that differs by its JSON path; `readable_changes` words
the fields a caller names ("Return window: 30 days → 45 days"); `unified_json_diff` shows the
rest as a unified diff of the pretty-printed JSON.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MISSING",
    "Change",
    "Kind",
    "LabelledField",
    "ReadableChange",
    "document_changes",
    "json_path",
    "readable_changes",
    "unified_json_diff",
    "value_at",
]


class _Missing:
    """The value of a path one of the documents does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Kind = Literal["days", "percent", "money", "flag", "count", "list", "choice", "text"]


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "fees.restocking_percent", "reasons" (lists are compared whole)
    before: Any  # MISSING when only the new document has it
    after: Any  # MISSING when only the old document has it


@dataclass(frozen=True)
class LabelledField:
    path: str
    label: str
    kind: Kind
    none: str = "no limit"  # how to say a null value


@dataclass(frozen=True)
class ReadableChange:
    path: str
    label: str
    before: str
    after: str


def json_path(parts: Iterable[str | int]) -> str:
    """("reasons", 0, "code") -> "reasons[0].code"."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path


def document_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Every value that differs, by JSON path: objects are compared key by key, lists and
    scalars whole. Keys in the order of `before`, then keys only `after` has."""
    changes: list[Change] = []
    _compare(before, after, (), changes)
    return changes


def _compare(
    before: Mapping[str, Any], after: Mapping[str, Any], at: tuple[str, ...], out: list[Change]
) -> None:
    keys = list(before) + [key for key in after if key not in before]
    for key in keys:
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _compare(old, new, (*at, key), out)
        elif not _same(old, new):
            out.append(Change(json_path((*at, key)), old, new))


def _same(a: Any, b: Any) -> bool:
    # 1 == True and 1 == 1.0 in Python; in a policy a flag is not a number.
    if a is MISSING or b is MISSING:
        return a is b
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of objects ("fees.restocking_percent"), or MISSING."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def readable_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    fields: Sequence[LabelledField],
    *,
    money: Callable[[int], str],
) -> list[ReadableChange]:
    """The named fields whose value differs, in the order given, each value worded."""
    out = []
    for field in fields:
        old, new = value_at(before, field.path), value_at(after, field.path)
        if _same(old, new):
            continue
        out.append(
            ReadableChange(
                field.path,
                field.label,
                _word(field, old, money),
                _word(field, new, money),
            )
        )
    return out


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _word(field: LabelledField, value: Any, money: Callable[[int], str]) -> str:
    if value is MISSING:
        return "not set"
    if value is None:
        return field.none
    match field.kind:
        case "days":
            return f"{value} day" if value == 1 else f"{value} days"
        case "percent":
            return f"{_number(value)} %"
        case "money":
            return money(int(value))
        case "flag":
            return "yes" if value else "no"
        case "list":
            return ", ".join(str(item) for item in value) if value else "none"
        case _:
            return _number(value)


def _pretty(document: Mapping[str, Any]) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def unified_json_diff(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    before_name: str = "current",
    after_name: str = "draft",
    context: int = 3,
) -> str:
    """A unified diff of the two documents as pretty-printed JSON (keys sorted, so only
    changes show); empty when they are equal."""
    lines = difflib.unified_diff(
        _pretty(before), _pretty(after), before_name, after_name, n=context, lineterm=""
    )
    return "\n".join(lines)
