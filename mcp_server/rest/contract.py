"""The /api/v1 contract: what counts as a breaking change between two OpenAPI documents (docs/api/versioning.md).

Within a version only additive changes are allowed. `breaking_changes(old, new)` lists what would
break a client written against `old`: a removed path or operation, a removed or newly required
parameter, a removed response field, a request field removed or newly required, a changed type, or
an enum that lost values. The committed snapshot (`docs/api/openapi-v1.json`, written by
`sis api snapshot`) is `old`; the live document is `new` (tests/architecture/test_api_contract.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

VERSION_PREFIX = "/api/v1"
SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi-v1.json"
METHODS = ("get", "put", "post", "delete", "patch")
# Nesting deeper than this is not compared (our schemas are a few levels deep; recursion would loop).
MAX_DEPTH = 12


def contract_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an OpenAPI document the version promises: its /api/v1 paths and the schemas they use."""
    paths = {p: ops for p, ops in document.get("paths", {}).items() if p.startswith(VERSION_PREFIX)}
    return {
        "openapi": document.get("openapi"),
        "paths": paths,
        "components": {"schemas": document.get("components", {}).get("schemas", {})},
    }


def load_snapshot(path: Path = SNAPSHOT) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def write_snapshot(document: Mapping[str, Any], path: Path = SNAPSHOT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(contract_of(document), indent=1, sort_keys=True) + "\n", encoding="utf-8")


class _Schemas:
    """Resolves local $refs of one document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Mapping[str, Any] | None) -> dict[str, Any]:
        seen = 0
        current: Mapping[str, Any] = schema or {}
        while "$ref" in current and seen < MAX_DEPTH:
            current = self.components.get(str(current["$ref"]).rsplit("/", 1)[-1], {})
            seen += 1
        return dict(current)


def _types(schema: Mapping[str, Any], schemas: _Schemas) -> frozenset[str]:
    """The JSON types a schema allows ("anyOf" of alternatives included); empty when it says nothing."""
    schema = schemas.resolve(schema)
    found: set[str] = set()
    if "type" in schema:
        kind = schema["type"]
        found |= set(kind) if isinstance(kind, list) else {kind}
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            found |= _types(option, schemas)
    if "integer" in found:
        found.add("number")  # an integer is a number: integer -> number widens, number -> integer narrows
    return frozenset(found)


def _properties(schema: Mapping[str, Any], schemas: _Schemas) -> tuple[dict[str, Any], frozenset[str]]:
    """Properties and required names of an object schema (through allOf/anyOf of objects)."""
    schema = schemas.resolve(schema)
    props = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for key in ("allOf", "anyOf", "oneOf"):
        for option in schema.get(key, []):
            more, req = _properties(option, schemas)
            props |= more
            if key == "allOf":
                required |= req
    return props, frozenset(required)


def _compare(
    where: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    olds: _Schemas,
    news: _Schemas,
    *,
    request: bool,
    depth: int = 0,
) -> Iterator[str]:
    """Breaking differences between two schemas; `request` for what clients send, else what they receive."""
    if depth > MAX_DEPTH:
        return
    old, new = olds.resolve(old), news.resolve(new)
    old_types, new_types = _types(old, olds), _types(new, news)
    if old_types and new_types:
        lost = old_types - new_types if request else new_types - old_types
        if lost:
            what = "no longer accepts" if request else "may now return"
            yield f"{where}: type {what} {', '.join(sorted(lost))}"
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if old_enum is not None and new_enum is not None:
        # A response enum may grow (clients must tolerate unknown values: docs/api/versioning.md).
        gone = set(map(str, old_enum)) - set(map(str, new_enum))
        if request and gone:
            yield f"{where}: no longer accepts {', '.join(sorted(gone))}"
    if old_enum is None and new_enum is not None and request:
        yield f"{where}: now limited to {', '.join(map(str, new_enum))}"
    old_props, old_required = _properties(old, olds)
    new_props, new_required = _properties(new, news)
    for name, old_schema in old_props.items():
        field = f"{where}.{name}"
        if name not in new_props:
            yield f"{field}: removed"
            continue
        if not request and name in old_required and name not in new_required:
            yield f"{field}: no longer always returned"
        yield from _compare(field, old_schema, new_props[name], olds, news, request=request, depth=depth + 1)
    if request:
        for name in sorted(new_required - old_required):
            yield f"{where}.{name}: newly required"
    if "items" in old and "items" in new:
        yield from _compare(f"{where}[]", old["items"], new["items"], olds, news, request=request, depth=depth + 1)


def _params(operation: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p.get("in", ""), p.get("name", "")): p for p in operation.get("parameters", [])}


def _json_schema(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    content = (body or {}).get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    return None if media is None else dict(media.get("schema", {}))


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What would break a client of `old` if the server now answered as `new` (empty: compatible)."""
    olds, news = _Schemas(old), _Schemas(new)
    problems: list[str] = []
    new_paths = new.get("paths", {})
    for path, old_ops in old.get("paths", {}).items():
        if not path.startswith(VERSION_PREFIX):
            continue
        if path not in new_paths:
            problems.append(f"{path}: removed")
            continue
        for method in METHODS:
            if method not in old_ops:
                continue
            where = f"{method.upper()} {path}"
            new_op = new_paths[path].get(method)
            if new_op is None:
                problems.append(f"{where}: removed")
                continue
            old_op = old_ops[method]
            old_params, new_params = _params(old_op), _params(new_op)
            for key, param in old_params.items():
                label = f"{where} {key[0]} parameter {key[1]!r}"
                if key not in new_params:
                    problems.append(f"{label}: removed")
                    continue
                problems += _compare(
                    label, param.get("schema", {}), new_params[key].get("schema", {}), olds, news, request=True
                )
            for key, param in new_params.items():
                if key not in old_params and param.get("required"):
                    problems.append(f"{where} {key[0]} parameter {key[1]!r}: newly required")
            old_body, new_body = _json_schema(old_op.get("requestBody")), _json_schema(new_op.get("requestBody"))
            if old_body is not None and new_body is not None:
                problems += _compare(f"{where} body", old_body, new_body, olds, news, request=True)
            elif old_body is None and new_body is not None and (new_op.get("requestBody") or {}).get("required"):
                problems.append(f"{where} body: newly required")
            for status, response in old_op.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                new_response = new_op.get("responses", {}).get(status)
                if new_response is None:
                    problems.append(f"{where} response {status}: removed")
                    continue
                old_schema, new_schema = _json_schema(response), _json_schema(new_response)
                if old_schema is not None and new_schema is not None:
                    problems += _compare(
                        f"{where} response {status}", old_schema, new_schema, olds, news, request=False
                    )
    return problems
