"""What X's official Python SDK (xdk, generated from X's OpenAPI specification) says each
endpoint is: read from its generated client modules, so the spec, not our sandbox, decides.

For every generated method: HTTP method, path template, the wire names of its query
parameters with the values each may take (the ``Literal`` choices of its signature), and the
response model it validates the answer with."""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import xdk
from pydantic import BaseModel

_DEF = re.compile(r"^    def (\w+)\(", re.M)
_URL = re.compile(r'self\.client\.base_url\s*\+\s*"([^"]+)"')
_VERB = re.compile(r"self\.client\.session\.(get|post|put|delete|patch)\(")
_VALIDATED = re.compile(r"(\w+Response)\.model_validate\(")
_PARAM = re.compile(
    r'params\["([^"]+)"\]\s*=\s*(?:",".join\(\s*str\(item\) for item in (\w+)\s*\)|(\w+))'
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    verb: str
    template: str
    pattern: re.Pattern[str]
    params: dict[str, set[str] | None]  # wire name -> allowed values (None: any)
    response: type[BaseModel] | None
    request: type[BaseModel] | None


def _literal_values(annotation: Any) -> set[str] | None:
    for arg in typing.get_args(annotation) or ():
        found = _literal_values(arg)
        if found is not None:
            return found
    if typing.get_origin(annotation) is typing.Literal:
        return {str(v) for v in typing.get_args(annotation)}
    return None


def _endpoints_of(module: ModuleType, models: ModuleType) -> list[Endpoint]:
    source = inspect.getsource(module)
    client_class = next(
        obj
        for name, obj in vars(module).items()
        if name.endswith("Client") and inspect.isclass(obj) and obj.__module__ == module.__name__
    )
    starts = [(m.start(), m.group(1)) for m in _DEF.finditer(source)]
    found: list[Endpoint] = []
    for (start, name), nxt in zip(starts, [*starts[1:], (len(source), "")], strict=True):
        body = source[start : nxt[0]]
        url, verb = _URL.search(body), _VERB.search(body)
        if url is None or verb is None:
            continue
        method = getattr(client_class, name)
        hints = typing.get_type_hints(method, {"Literal": typing.Literal, **vars(module)})
        params: dict[str, set[str] | None] = {}
        for wire, listed, single in _PARAM.findall(body):
            arg = listed or single
            params[wire] = _literal_values(hints.get(arg)) if arg in hints else None
        if "pagination_token" in hints:  # set by the generated paginator, not a params[] line
            params["pagination_token"] = None
        template = url.group(1)
        regex = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")
        response = hints.get("return")
        if not (inspect.isclass(response) and issubclass(response, BaseModel)):
            page = _VALIDATED.search(body)  # a paginated method validates each page
            response = getattr(models, page.group(1)) if page else None
        request = hints.get("body")
        found.append(
            Endpoint(
                name=f"{module.__name__}.{name}",
                verb=verb.group(1).upper(),
                template=template,
                pattern=regex,
                params=params,
                response=response,
                request=request
                if inspect.isclass(request) and issubclass(request, BaseModel)
                else None,
            )
        )
    return found


@cache
def endpoints() -> tuple[Endpoint, ...]:
    root = Path(xdk.__file__).parent
    found: list[Endpoint] = []
    for client in sorted(root.glob("*/client.py")):
        package = f"xdk.{client.parent.name}"
        found += _endpoints_of(
            importlib.import_module(f"{package}.client"),
            importlib.import_module(f"{package}.models"),
        )
    return tuple(found)


def endpoint_for(verb: str, path: str) -> Endpoint | None:
    """The most specific endpoint (fewest placeholders) that serves ``verb path``."""
    matches = [e for e in endpoints() if e.verb == verb and e.pattern.match(path)]
    return min(matches, key=lambda e: e.template.count("{"), default=None)


def unknown_fields(model: BaseModel, where: str = "") -> list[str]:
    """Keys the spec's models do not declare (they land in pydantic's ``model_extra``)."""
    problems = [f"{where}.{key}" for key in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                suffix = f"[{i}]" if isinstance(value, list) else ""
                problems += unknown_fields(item, f"{where}.{name}{suffix}")
    return problems
