"""Forms of the UI: what a person typed, and the errors beside each field in plain words.

A settings form is checked by the same Pydantic model (or service) the API uses; this turns
its errors into ``{field: "must be 1 or less"}`` instead of ``body.x: Input should be …``,
and keeps the typed values so the page can show them again (POST, then redirect on success).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from socialcrm.core.errors import AppError
from socialcrm.web.deps import Ctx
from socialcrm.web.ui import _check_csrf

FORM = ""  # the key of an error that belongs to no one field

_PLAIN = {
    "missing": "this is required",
    "greater_than_equal": "must be {ge} or more",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be {le} or less",
    "less_than": "must be less than {lt}",
    "float_parsing": "enter a number, such as 0.8",
    "float_type": "enter a number, such as 0.8",
    "finite_number": "enter an ordinary number",
    "int_parsing": "enter a whole number",
    "int_type": "enter a whole number",
    "int_from_float": "enter a whole number",
    "bool_parsing": "choose yes or no",
    "bool_type": "choose yes or no",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "give at least {min_length}",
    "too_long": "give at most {max_length}",
    "string_pattern_mismatch": "is not in the expected form",
    "enum": "choose one of {expected}",
    "literal_error": "choose one of {expected}",
    "extra_forbidden": "is not a setting of this form",
}


def plain_message(error: ErrorDetails) -> str:
    """One Pydantic error in words a person understands."""
    context: Mapping[str, Any] = error.get("ctx") or {}
    template = _PLAIN.get(error["type"])
    if template is not None:
        try:
            return template.format(**context)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first error of each field; an entry of a list says which (``entry 3: …``)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = [part for part in error.get("loc", ()) if part not in ("body",)]
        name = str(location[0]) if location else FORM
        message = plain_message(error)
        if len(location) > 1 and isinstance(location[1], int):
            message = f"entry {location[1] + 1}: {message}"
        errors.setdefault(name, message)
    return errors


def app_error_fields(exc: AppError, fields: Iterable[str] = ()) -> dict[str, str]:
    """A service's refusal beside the field it names in ``details`` (else above the form)."""
    known = set(fields)
    named = [key for key in (exc.details or {}) if key in known]
    return {named[0] if named else FORM: exc.message}


@dataclass(slots=True)
class FormState:
    """What a form re-shows after an error: the values typed, the errors per field, and the
    status of the answer (400, or the service's own: 404, 409 …)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200


async def read_form(request: Request, *, lists: Iterable[str] = ()) -> dict[str, Any]:
    """The posted fields (CSRF checked): text as typed (up to 20,000 characters), and for the
    names in ``lists`` (checkbox groups) every value."""
    form = await request.form()
    _check_csrf(request, str(form.get("csrf", "")))
    several = set(lists)
    values: dict[str, Any] = {name: [str(v) for v in form.getlist(name)] for name in several}
    for name, value in form.items():
        if name not in several and name != "csrf":
            values[name] = str(value)[:20_000]
    return values


def attempt(ctx: Ctx, values: Mapping[str, Any], change: Callable[[], object]) -> FormState | None:
    """Run ``change`` (validate, then call the service); on a refusal roll the unit of work
    back and return the form to show again, its errors beside their fields."""
    try:
        change()
    except ValidationError as exc:
        ctx.session.rollback()
        return FormState(dict(values), field_errors(exc), 400)
    except AppError as exc:
        ctx.session.rollback()
        return FormState(dict(values), app_error_fields(exc, values), exc.status_code)
    return None


def done(path: str, code: str) -> RedirectResponse:
    """After a successful POST: back to the page (GET), which shows the fixed notice ``code``."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}done={code}", status_code=303)


def choice(notices: Mapping[str, str], code: str) -> str:
    """The banner text of a fixed ``?done=`` code: a URL can pick a message, never write one."""
    return notices.get(code, "")
