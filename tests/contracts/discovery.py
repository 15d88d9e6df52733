"""Checks of requests and responses against a Google API discovery document (the YouTube Data
API v3's, as bundled in google-api-python-client). Pure functions returning what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

Doc = Mapping[str, Any]
# Parameters every Google API method takes besides its own (the discovery doc's top level).
STANDARD = frozenset({"alt", "fields", "key", "prettyPrint", "quotaUser", "access_token"})


@cache
def youtube_v3() -> Doc:
    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / "youtube.v3.json"
    doc: Doc = json.loads(path.read_text(encoding="utf-8"))
    return doc


def methods(doc: Doc) -> Iterator[Mapping[str, Any]]:
    def walk(resources_: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for resource in resources_.values():
            yield from resource.get("methods", {}).values()
            yield from walk(resource.get("resources", {}))

    yield from walk(doc["resources"])


def find_method(doc: Doc, http_method: str, path: str) -> Mapping[str, Any] | None:
    """The method for ``GET youtube/v3/channels`` (path relative to the root URL)."""
    for method in methods(doc):
        if method["httpMethod"] == http_method and method["path"] == path:
            return method
    return None


def _type_ok(value: str, spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "boolean":
        return value in ("true", "false")
    if "enum" in spec:
        return value in spec["enum"]
    return True


def check_request(
    doc: Doc, http_method: str, path: str, params: Mapping[str, list[str]], body: Any
) -> list[str]:
    """What in one request the discovery document does not allow."""
    method = find_method(doc, http_method, path)
    if method is None:
        return [f"{http_method} {path}: no such method"]
    where = method["id"]
    problems: list[str] = []
    declared = method.get("parameters", {})
    for name, values in params.items():
        spec = declared.get(name)
        if spec is None:
            if name not in STANDARD:
                problems.append(f"{where}: unknown parameter {name!r}")
            continue
        if len(values) > 1 and not spec.get("repeated"):
            problems.append(f"{where}: {name!r} given {len(values)} times")
        problems += [
            f"{where}: {name}={v!r} is not a valid {spec.get('type')}"
            for v in values
            if not _type_ok(v, spec)
        ]
    problems += [
        f"{where}: required parameter {name!r} missing"
        for name, spec in declared.items()
        if spec.get("required") and name not in params
    ]
    if "request" in method:
        if body is None:
            problems.append(f"{where}: no request body")
        else:
            problems += check_value(doc, {"$ref": method["request"]["$ref"]}, body, where)
    elif body is not None:
        problems.append(f"{where}: takes no body")
    return problems


def check_value(doc: Doc, schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
    """Every key of ``value`` is a property of ``schema`` with the right JSON type."""
    if "$ref" in schema:
        return check_value(doc, doc["schemas"][schema["$ref"]], value, where)
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        problems: list[str] = []
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            spec = properties.get(key, extra)
            if spec is None:
                problems.append(f"{where}.{key}: not in the schema")
            else:
                problems += check_value(doc, spec, item, f"{where}.{key}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [
            p
            for i, v in enumerate(value)
            for p in check_value(doc, schema["items"], v, f"{where}[{i}]")
        ]
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "any": object,
    }
    python = expected.get(kind or "any", object)
    if value is None or (isinstance(value, bool) and kind in ("integer", "number")):
        return [f"{where}: {value!r} is not a {kind}"]
    if not isinstance(value, python):
        return [f"{where}: {value!r} is a {type(value).__name__}, the schema says {kind}"]
    if kind == "string" and schema.get("format") in ("int64", "uint64") and not value.isdigit():
        return [f"{where}: {value!r} is not a {schema['format']} string"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    return []
