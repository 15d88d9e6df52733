"""Forms of the UI: what a person typed, and the errors beside each field in plain words.

A settings form is checked by the same Pydantic model (or service) the API uses; this turns
its errors into ``{field: "must be 1 or less"}`` instead of ``body.x: Input should be …``,
and keeps the typed values so the page can show them again (POST, then redirect on success).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from socialcrm.core.errors import AppError
from socialcrm.core.web.context import AdminCtx, Ctx
from socialcrm.core.web.csrf import check_csrf
from socialcrm.core.web.render import render

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
    "string_type": "this is required",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "give at least {min_length}",
    "too_long": "give at most {max_length}",
    "string_pattern_mismatch": "is not in the expected form",
    "enum": "choose one of {expected}",
    "literal_error": "choose one of {expected}",
    "extra_forbidden": "is not a setting of this form",
}


def _shown(value: object) -> object:
    """A bound as a person writes it: 1 rather than 1.0, choices without quotes."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float):
        return value
    return str(value).replace("'", "")


def plain_message(error: ErrorDetails) -> str:
    """One Pydantic error in words a person understands."""
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    template = _PLAIN.get(error["type"])
    if error["type"] in ("string_too_short", "too_short") and context.get("min_length") == 1:
        template = _PLAIN["missing"]
    if template is not None:
        try:
            return template.format(**context)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first error of each field, by its dotted name (``tiers.gold.queue``, the name of
    its form field); an entry of a list says which (``entry 3: …``)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = [part for part in error.get("loc", ()) if part != "body"]
        name = ".".join(str(part) for part in location if not isinstance(part, int))
        message = plain_message(error)
        entries = [part for part in location if isinstance(part, int)]
        if entries:
            message = f"entry {entries[0] + 1}: {message}"
        errors.setdefault(name or FORM, message)
    return errors


def app_error_fields(exc: AppError, fields: Iterable[str] = ()) -> dict[str, str]:
    """A service's refusal beside the field it names in ``details`` (else above the form);
    ``details["fields"]`` (``{field: why}``) puts each reason beside its own field."""
    known = set(fields)
    details = exc.details or {}
    per_field = details.get("fields")
    if isinstance(per_field, dict):
        found = {k: str(v) for k, v in per_field.items() if k in known}
        if found:
            return found
    named = [key for key in details if key in known]
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
    check_csrf(request, str(form.get("csrf", "")))
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


# --- a settings page of the Admin area: show the current values, save, show errors ------------


@dataclass(frozen=True, slots=True)
class SettingsForm:
    """One settings form: its page, the current values as form fields, and what Save does
    (validate with the API's own model, call the service). ``lists`` names checkbox groups;
    ``more`` gives the page's other values (e.g. usage figures); ``notices`` the banners of
    the page's other forms."""

    path: str
    template: str
    current: Callable[[Ctx], dict[str, Any]]
    save: Callable[[Ctx, dict[str, Any]], object]
    saved: str = "Settings saved."
    lists: tuple[str, ...] = ()
    more: Callable[[Ctx], dict[str, Any]] | None = None
    notices: Mapping[str, str] = field(default_factory=dict)  # other ``?done=`` codes
    secrets: tuple[str, ...] = ()  # never shown again after an error (passwords)

    def page(
        self,
        request: Request,
        ctx: Ctx,
        state: FormState | None = None,
        notice: str = "",
        **extra: Any,
    ) -> HTMLResponse:
        """The page with the current values, or with what was typed and its errors; ``extra``
        (e.g. another form's state) goes to the template too."""
        state = state or FormState(self.current(ctx))
        values = {**(self.more(ctx) if self.more else {}), **extra}
        status = max(
            [state.status, *(v.status for v in extra.values() if isinstance(v, FormState))]
        )
        return render(
            request, ctx, self.template, status=status, state=state, notice=notice, **values
        )

    def router(self) -> APIRouter:
        """GET shows the form; POST saves and redirects (POST-redirect-GET) or shows again."""
        router = APIRouter()

        @router.get(self.path, response_class=HTMLResponse)
        def show(
            request: Request, ctx: AdminCtx, done: Annotated[str, Query(max_length=20)] = ""
        ) -> HTMLResponse:
            notice = choice({"saved": self.saved, **self.notices}, done)
            return self.page(request, ctx, notice=notice)

        @router.post(self.path, response_model=None)
        async def submit(request: Request, ctx: AdminCtx) -> Response:
            values = await read_form(request, lists=self.lists)
            failed = attempt(ctx, values, lambda: self.save(ctx, values))
            if failed is None:
                return done(self.path, "saved")
            for name in self.secrets:
                failed.values.pop(name, None)
            return self.page(request, ctx, failed)

        return router


def text_or_none(value: object) -> str | None:
    """A blank field means "not set" (the service's default)."""
    text = str(value or "").strip()
    return text or None


def checked(values: Mapping[str, Any], name: str) -> bool:
    """A checkbox: present when ticked, absent when not."""
    return bool(values.get(name))


def lines(value: object) -> list[str]:
    """A text area of one entry per line (blank lines dropped)."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]
