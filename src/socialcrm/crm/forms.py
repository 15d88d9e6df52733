"""The record forms of the UI, as pure functions: which fields each record's form has, what
a submitted form means as an API body, and a validation error in plain words beside its field.

A form keeps what was typed: ``read`` turns the submitted form into the values the page shows
again (rows of emails, phones and handles without the blank ones), ``body`` turns those into
the API's shape, which the API's own schema then validates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import ImmutableMultiDict

from socialcrm.core.numbers import is_ascii_number
from socialcrm.crm import phones
from socialcrm.crm.models import (
    CampaignStatus,
    EmailType,
    LeadStatus,
    Priority,
    TicketStatus,
    Tier,
)
from socialcrm.crm.schemas import NETWORKS, PREFERRED_CHANNELS

FORM_ERROR = "_form"  # an error about the form as a whole, shown above it
MAX_ROWS = 20


FormLike = ImmutableMultiDict[str, Any]  # a submitted form, or a query string


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | select | checkbox | date | rows | hidden
    choices: tuple[tuple[str, str], ...] = ()  # (value, label); "" is "none"
    options: str = ""  # choices read at request time: users | accounts | campaigns
    required: bool = False
    hint: str = ""
    row_kinds: tuple[str, ...] = ()  # rows: the choices of each row's type select
    row_untyped: bool = False  # rows: a row may have no type
    row_label: str = ""  # rows: what one row's value is
    date_end: bool = False  # date: the end of that day, not its start
    default: str = ""  # a new record's value
    nullable: bool = False  # left empty: none (not an empty string, not "unchanged")


def _choices(values: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(v), str(v)) for v in values)


CONTACT = (
    Field("name", "Name", required=True),
    Field("company", "Company"),
    Field("title", "Job title"),
    Field(
        "emails",
        "Emails",
        "rows",
        row_kinds=tuple(EmailType),
        row_label="Email",
        row_untyped=True,
    ),
    Field("phones", "Phones", "rows", row_kinds=phones.PHONE_TYPES, row_label="Phone"),
    Field(
        "handles",
        "Social handles",
        "rows",
        row_kinds=NETWORKS,
        row_label="Handle",
        hint="A handle with or without its @, e.g. @ada or ada@mastodon.social.",
    ),
    Field("website", "Website", hint="An http(s) address or a bare domain, e.g. acme.com."),
    Field("location", "Location"),
    Field("tier", "Tier", "select", _choices(Tier), default=Tier.STANDARD),
    Field(
        "preferred_channel",
        "Preferred channel",
        "select",
        (("", "none"), *_choices(PREFERRED_CHANNELS)),
        nullable=True,
    ),
    Field(
        "language",
        "Language",
        hint="A language tag, e.g. en, en-US or pt-BR.",
        nullable=True,
    ),
    Field("owner_id", "Owner", "select", (("", "nobody"),), options="users"),
    Field("account_id", "Account", "select", (("", "none"),), options="accounts"),
    Field("enrichment_consent", "May be enriched from public social profiles", "checkbox"),
    Field("marketing_consent", "Agreed to marketing messages", "checkbox"),
)
ACCOUNT = (
    Field("name", "Name", required=True),
    Field("website", "Website", hint="An http(s) address or a bare domain, e.g. acme.com."),
    Field("industry", "Industry"),
    Field("tier", "Tier", "select", _choices(Tier), default=Tier.STANDARD),
)
LEAD = (
    Field("name", "Name", required=True),
    Field("status", "Status", "select", _choices(LeadStatus), default=LeadStatus.NEW),
    Field(
        "source",
        "Source",
        hint="Where the Lead came from, e.g. event, referral.",
        default="manual",
    ),
    Field("owner_id", "Owner", "select", (("", "nobody"),), options="users"),
    Field("campaign_id", "Campaign", "select", (("", "none"),), options="campaigns"),
    Field("notes", "Notes", "textarea"),
)
TICKET = (
    Field("subject", "Subject", required=True),
    Field("description", "Description", "textarea"),
    Field("status", "Status", "select", _choices(TicketStatus), default=TicketStatus.OPEN),
    Field("priority", "Priority", "select", _choices(Priority), default=Priority.NORMAL),
    Field("queue", "Queue", default="general"),
    Field("assignee_id", "Assignee", "select", (("", "nobody"),), options="users"),
    Field("contact_id", "Contact", "hidden"),
)
CAMPAIGN = (
    Field("name", "Name", required=True),
    Field("status", "Status", "select", _choices(CampaignStatus), default=CampaignStatus.DRAFT),
    Field("tracking_tag", "Tracking tag", hint="A short tag, e.g. spring-launch."),
    Field("starts_at", "Starts on", "date"),
    Field("ends_at", "Ends on", "date", date_end=True),
)
ACTIVITY_KINDS = ("note", "call", "meeting", "email")
ACTIVITY = (
    Field("kind", "Kind", "select", _choices(ACTIVITY_KINDS), default="note"),
    Field("subject", "Subject"),
    Field("body", "What happened", "textarea"),
    Field("contact_id", "Contact", "hidden"),
    Field("lead_id", "Lead", "hidden"),
    Field("ticket_id", "Ticket", "hidden"),
    Field("campaign_id", "Campaign", "hidden"),
)
FIELDS: dict[str, tuple[Field, ...]] = {
    "contacts": CONTACT,
    "accounts": ACCOUNT,
    "leads": LEAD,
    "tickets": TICKET,
    "campaigns": CAMPAIGN,
    "activities": ACTIVITY,
}


# --- reading a submitted form ------------------------------------------------------------------


def read(fields: tuple[Field, ...], form: FormLike) -> dict[str, Any]:
    """What the person typed, as the form shows it again: strings, a flag per checkbox, and
    (kind, value) rows without the blank ones."""
    values: dict[str, Any] = {}
    for field in fields:
        if field.kind == "rows":
            kinds = [str(k) for k in form.getlist(f"{field.name}_kind")]
            typed = [str(v).strip() for v in form.getlist(f"{field.name}_value")]
            rows = [(k, v) for k, v in zip(kinds, typed, strict=False) if v][:MAX_ROWS]
            values[field.name] = rows
        elif field.kind == "checkbox":
            values[field.name] = form.get(field.name) == "on"
        else:
            values[field.name] = str(form.get(field.name, "") or "")
    return values


def new(fields: tuple[Field, ...], given: FormLike) -> dict[str, Any]:
    """A new record's form: its defaults, and the hidden references the link gave
    (``/tickets/new?contact_id=5``)."""
    values = read(fields, given)
    for field in fields:
        if field.kind != "hidden" and not (field.kind == "select" and field.options):
            values[field.name] = field.default if field.kind != "rows" else []
            if field.kind == "checkbox":
                values[field.name] = False
    return values


def present(fields: tuple[Field, ...], record: Any) -> dict[str, Any]:
    """A stored record as its form shows it (the edit form's starting values)."""
    values: dict[str, Any] = {}
    for field in fields:
        value = getattr(record, field.name, None)
        if field.name == "handles":
            values[field.name] = [(h.get("network", ""), h.get("handle", "")) for h in value or []]
        elif field.name == "phones":
            values[field.name] = [(p["type"], p["number"]) for p in phones.normalise(value or [])]
        elif field.kind == "rows":
            types = getattr(record, "email_types", None) or {}
            values[field.name] = [(str(types.get(v, "")), str(v)) for v in value or []]
        elif field.kind == "checkbox":
            values[field.name] = bool(value)
        elif field.kind == "date":
            values[field.name] = value.date().isoformat() if value is not None else ""
        else:
            values[field.name] = "" if value is None else str(value)
    return values


def body(fields: tuple[Field, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The API body these form values mean (the API's schema validates it)."""
    out: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if field.name == "handles":
            out["handles"] = [{"network": k, "handle": v} for k, v in value or []]
        elif field.name == "phones":
            out["phones"] = [
                {"number": v, "type": k or phones.DEFAULT_TYPE} for k, v in value or []
            ]
        elif field.kind == "rows":
            out[field.name] = [v for _, v in value or []]
            out["email_types"] = {v: k for k, v in value or [] if k}
        elif field.kind == "checkbox":
            out[field.name] = bool(value)
        elif field.kind == "date":
            out[field.name] = _day(str(value or ""), end=field.date_end)
        elif field.name.endswith("_id"):
            out[field.name] = _ref(str(value or ""))
        elif field.nullable and not str(value or "").strip():
            out[field.name] = None
        elif field.kind == "select" and not value:
            continue  # nothing chosen: the record's default (or, editing, no change)
        else:
            out[field.name] = value if value is not None else ""
    return out


def _day(value: str, *, end: bool) -> str | None:
    """A date field as an aware datetime (UTC): its day's start, or its end for end dates."""
    if not value.strip():
        return None
    return f"{value.strip()}T{'23:59:59' if end else '00:00:00'}+00:00"


def _ref(value: str) -> Any:
    """An id chosen in a select: none, a number, or what was sent (the schema refuses it)."""
    value = value.strip()
    if not value:
        return None
    return int(value) if is_ascii_number(value) and len(value) < 12 else value


# --- errors in plain words ---------------------------------------------------------------------

ORDINALS = ("first", "second", "third", "fourth", "fifth")


def _nth(index: int) -> str:
    return ORDINALS[index] if index < len(ORDINALS) else f"number {index + 1}"


def _words(error: Mapping[str, Any], label: str) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("missing", "string_too_short") and ctx.get("min_length", 1) <= 1:
        return f"{label} is required."
    if kind == "string_too_short":
        return f"{label} needs at least {ctx['min_length']} characters."
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        unit = "characters" if kind == "string_too_long" else "entries"
        return f"{label} can have at most {limit} {unit}."
    if kind == "string_pattern_mismatch":
        return f"{label} may contain digits, spaces and + ( ) - . / only."
    if kind == "enum" or kind == "literal_error":
        return f"Choose one of: {ctx.get('expected', 'the listed values')}."
    if kind in ("int_parsing", "int_type", "greater_than_equal", "less_than_equal"):
        return f"{label}: choose one from the list."
    if kind in ("datetime_from_date_parsing", "datetime_parsing", "timezone_aware"):
        return f"{label} is not a date (use the date picker, or YYYY-MM-DD)."
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    message = message.removeprefix("value is not a valid email address: ").rstrip(".")
    return f"{label}: {message[0].lower()}{message[1:]}." if message else f"{label} is not valid."


def plain_errors(fields: tuple[Field, ...], exc: ValidationError) -> dict[str, str]:
    """Each error beside its field: keyed "name", or "emails.1" for the second email row."""
    labels = {f.name: f for f in fields}
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if not loc:
            out.setdefault(FORM_ERROR, _words(error, "The form").removeprefix("The form: "))
            continue
        name = loc[0]
        if name.endswith("_types"):  # a row's type: shown beside the row's value
            name = f"{name[:-6]}s"
            if any(key.startswith(f"{name}.") for key in out):
                continue  # the row's own value is wrong: said once, beside it
        field = labels.get(name)
        label = field.label if field is not None else name.replace("_", " ").capitalize()
        key = name
        if len(loc) > 1 and loc[1].isdigit() and field is not None and field.kind == "rows":
            key = f"{name}.{loc[1]}"
            label = f"The {_nth(int(loc[1]))} {field.row_label.lower()}"
        out.setdefault(key, _words(error, label))
    return out


def reference_error(details: Mapping[str, Any], message: str) -> dict[str, str]:
    """A service's refusal (e.g. an owner who does not exist) beside the field it names."""
    field = details.get("field")
    return {str(field) if field else FORM_ERROR: message}
