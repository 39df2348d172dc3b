"""The API's operations, read from the OpenAPI document the API serves, and the smallest request
body each one's schema accepts: what the generated tests (R5, R6) walk, so an operation added
later is walked without touching them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.test import Client

METHODS = ("get", "put", "post", "patch", "delete")


@dataclass
class Operation:
    method: str  # upper case
    path: str  # the template, with /api/v1
    spec: dict[str, Any]
    components: dict[str, Any] = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_names(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def query_names(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "query"]

    @property
    def keyed(self) -> bool:
        """Whether the operation takes an API key (the inbound webhooks take a signature)."""
        return bool(self.spec.get("security"))

    @property
    def media_type(self) -> str | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        return next(iter(content), None)

    def body_schema(self) -> dict[str, Any] | None:
        media = self.media_type
        if media is None:
            return None
        return self.spec["requestBody"]["content"][media].get("schema", {})

    def url(self, values: dict[str, Any]) -> str:
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), self.path)

    def minimal_body(self, values: dict[str, Any]) -> Any:
        """The smallest body the schema accepts, with the fields that `values` names taken
        from it (so the body points at the objects the test is about)."""
        schema = self.body_schema()
        if schema is None:
            return None
        return minimal(schema, self.components, values, name="")


def document(client: Client | None = None) -> dict[str, Any]:
    response = (client or Client()).get("/api/v1/openapi.json")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def operations(doc: dict[str, Any] | None = None) -> list[Operation]:
    doc = doc or document()
    components = doc.get("components", {}).get("schemas", {})
    found = [
        Operation(method.upper(), path, spec, components)
        for path, item in doc["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]
    assert len(found) >= 70, f"only {len(found)} operations in the document: is it complete?"
    return found


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if len(schema.get("allOf", [])) == 1:
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _resolve({**schema["allOf"][0], **rest}, components)
    return schema


def minimal(
    schema: dict[str, Any], components: dict[str, Any], values: dict[str, Any], *, name: str
) -> Any:
    """The smallest instance of `schema`: required properties only, one character strings,
    the lowest numbers, the fewest items; a property named in `values` takes that value."""
    if name in values:
        return values[name]
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if _resolve(s, components).get("type") != "null"]
        return minimal(options[0], components, values, name=name) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "examples" in schema:
        return schema["examples"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            key: minimal(properties[key], components, values, name=key)
            for key in properties
            if key in schema.get("required", []) or key in values
        }
    if kind == "array":
        item = schema.get("items", {})
        return [
            minimal(item, components, values, name="") for _ in range(schema.get("minItems", 0))
        ]
    if kind in ("integer", "number"):
        return min(max(schema.get("minimum", 1), 1), schema.get("maximum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        if fmt == "date":
            return datetime.now(UTC).date().isoformat()
        if fmt == "binary":
            return b""
        assert "pattern" not in schema, f"give the walker a value for {name!r}: {schema['pattern']}"
        return "x" * max(schema.get("minLength", 1), 1)
    return {}
