"""Request bodies that may arrive as JSON or as form fields (OAuth, Mastodon)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


async def read_fields(request: Request) -> dict[str, Any]:
    """The body as a dict: JSON objects as is, forms with ``key[]`` fields as lists."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    form = await request.form()
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key.endswith("[]"):
            fields.setdefault(key[:-2], []).append(value)
        else:
            fields[key] = value
    return fields


def text_field(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
