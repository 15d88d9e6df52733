"""UI of listening: the rules editor with its 7-day preview, and the live mentions inbox."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import MAX_ID, utcnow
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.web import charts
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.forms import field_errors
from socialcrm.core.web.notices import shown, with_notice
from socialcrm.core.web.render import render
from socialcrm.crm import service as crm
from socialcrm.crm.models import Campaign
from socialcrm.crm.sla import Marker
from socialcrm.listening import schemas, service
from socialcrm.listening.models import ListeningRule, SocialMention
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.models import User

router = APIRouter()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


def _rule_form(form: dict[str, Any]) -> dict[str, Any]:
    """The editor's form fields as the API's rule shape."""
    data: dict[str, Any] = {
        "query": form.get("query", ""),
        "networks": form.get("networks", []),
        "brand_account_ids": [
            int(a) for a in form.get("brand_account_ids", []) if is_ascii_number(a)
        ],
        "languages": _split(form.get("languages", "")),
        "countries": _split(form.get("countries", "")),
        "sentiments": form.get("sentiments", []),
        "support": form.get("support") == "on",
        "owner_id": int(form["owner_id"]) if is_ascii_number(form.get("owner_id", "")) else None,
        "campaign_id": int(form["campaign_id"])
        if is_ascii_number(form.get("campaign_id", ""))
        else None,
        "actions": form.get("actions", []),
    }
    if form.get("lat") and form.get("lon") and form.get("radius_km"):
        data["geo"] = {"lat": form["lat"], "lon": form["lon"], "radius_km": form["radius_km"]}
    return data


async def _form_dict(request: Request) -> dict[str, Any]:
    form = await request.form()
    multi = {"networks", "brand_account_ids", "sentiments", "actions"}
    out: dict[str, Any] = {k: [str(v) for v in form.getlist(k)] for k in multi}
    for key, value in form.items():
        if key not in multi:
            out[key] = str(value)[:4000]
    return out


def _editor(
    request: Request,
    ctx: Ctx,
    *,
    error: str = "",
    status: int = 200,
    editing: ListeningRule | None = None,
    typed: SimpleNamespace | None = None,
) -> HTMLResponse:
    return render(
        request,
        ctx,
        "listening/rules.html",
        status=status,
        editing=editing,
        typed=typed,
        rules=service.list_rules(ctx.session),
        networks=list(PROVIDERS),
        accounts=list(ctx.session.scalars(select(SocialAccount).order_by(SocialAccount.id))),
        users=list(ctx.session.scalars(select(User).order_by(User.id))),
        campaigns=list(ctx.session.scalars(select(Campaign).order_by(Campaign.id))),
        error=error,
    )


@router.get("/listening/rules", response_class=HTMLResponse)
def rules_page(
    request: Request, ctx: UiCtx, edit: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> HTMLResponse:
    """The editor: a new rule, or with ``?edit=<id>`` that rule's fields to change."""
    return _editor(request, ctx, editing=service.get_rule(ctx.session, edit) if edit else None)


@router.post("/listening/rules", response_model=None)
async def save_rule(request: Request, ctx: UiCtx) -> Response:
    form = await _form_dict(request)
    check_csrf(request, form.get("csrf", ""))
    service.require_editor(ctx.principal)  # a refusal, not a form error, for the read-only
    try:
        body = schemas.RuleIn.model_validate({**_rule_form(form), "name": form.get("name", "")})
        service.create_rule(ctx.session, ctx.principal, body.values())
    except ValidationError as exc:
        typed = _typed(form, None)
        return _editor(request, ctx, error=_first_error(exc), status=400, typed=typed)
    except AppError as exc:
        ctx.session.rollback()
        typed = _typed(form, None)
        return _editor(request, ctx, error=exc.message, status=exc.status_code, typed=typed)
    return RedirectResponse("/listening/rules", status_code=303)


FIELD_LABELS = {
    "name": "Name",
    "query": "Query",
    "networks": "Networks",
    "languages": "Languages",
    "countries": "Countries",
    "geo.lat": "Latitude",
    "geo.lon": "Longitude",
    "geo.radius_km": "Radius (km)",
    "sentiments": "Sentiment",
    "actions": "Actions",
}


def _first_error(exc: ValidationError) -> str:
    """The first refusal in a person's words, named by the field's label ("Radius (km): must
    be more than 0"), never a schema path ("geo.radius_km: Input should be …")."""
    name, message = next(iter(field_errors(exc).items()))
    return f"{FIELD_LABELS.get(name, name.replace('_', ' ').capitalize())}: {message}"


def _typed(form: dict[str, Any], editing: ListeningRule | None) -> SimpleNamespace:
    """What was typed, shaped like a rule, so the editor shows it again after a refusal."""
    values = _rule_form(form)
    point = {k: form.get(k, "") for k in ("lat", "lon", "radius_km")}
    values["geo"] = point if any(point.values()) else None
    rule_id = editing.id if editing is not None else None
    return SimpleNamespace(**values, name=form.get("name", ""), id=rule_id)


@router.post("/listening/rules/preview", response_class=HTMLResponse)
async def preview_rule(request: Request, ctx: UiCtx) -> HTMLResponse:
    form = await _form_dict(request)
    check_csrf(request, form.get("csrf", ""))
    try:
        body = schemas.RuleFields.model_validate(_rule_form(form))
        result = service.preview(ctx.session, body.values())
    except ValidationError as exc:
        return HTMLResponse(f'<p class="notice error" role="alert">{_esc(_first_error(exc))}</p>')
    except AppError as exc:
        return HTMLResponse(f'<p class="notice error" role="alert">{_esc(exc.message)}</p>')
    return render(request, ctx, "listening/preview.html", result=result, days=service.PREVIEW_DAYS)


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@router.post("/listening/rules/{rule_id}/toggle", response_model=None)
def toggle_rule(request: Request, ctx: UiCtx, rule_id: int, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    rule = service.get_rule(ctx.session, rule_id)
    service.update_rule(ctx.session, ctx.principal, rule_id, {"active": not rule.active})
    return RedirectResponse("/listening/rules", status_code=303)


@router.post("/listening/rules/{rule_id}/delete", response_model=None)
def delete_rule(request: Request, ctx: UiCtx, rule_id: int, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    service.delete_rule(ctx.session, ctx.principal, rule_id)
    return RedirectResponse("/listening/rules", status_code=303)


# What the editor's form does not show stays as it is (e.g. listen-through accounts set by API).
_NOT_IN_FORM = ("account_ids", "active")


# After /listening/rules/preview: routes match in order, and this path would take "preview".
@router.post("/listening/rules/{rule_id}", response_model=None)
async def update_rule(
    request: Request, ctx: UiCtx, rule_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    form = await _form_dict(request)
    check_csrf(request, form.get("csrf", ""))
    service.require_editor(ctx.principal)
    rule = service.get_rule(ctx.session, rule_id)
    try:
        body = schemas.RuleIn.model_validate({**_rule_form(form), "name": form.get("name", "")})
        changes = {k: v for k, v in body.values().items() if k not in _NOT_IN_FORM}
        service.update_rule(ctx.session, ctx.principal, rule_id, changes)
    except ValidationError as exc:
        typed = _typed(form, rule)
        return _editor(request, ctx, error=_first_error(exc), status=400, editing=rule, typed=typed)
    except AppError as exc:
        ctx.session.rollback()
        rule = service.get_rule(ctx.session, rule_id)
        typed = _typed(form, rule)
        return _editor(
            request, ctx, error=exc.message, status=exc.status_code, editing=rule, typed=typed
        )
    return RedirectResponse(f"/listening/rules#rule-{rule_id}", status_code=303)


def _filters(
    rule_id: str, sentiment: str, network: str, language: str, has_lead: str, has_ticket: str
) -> service.InboxFilters:
    def flag(value: str) -> bool | None:
        return {"yes": True, "no": False}.get(value)

    return service.InboxFilters(
        rule_id=int(rule_id) if is_ascii_number(rule_id) and len(rule_id) < 10 else None,
        sentiment=sentiment if sentiment in ("positive", "neutral", "negative") else None,
        network=network or None,
        language=language or None,
        has_lead=flag(has_lead),
        has_ticket=flag(has_ticket),
    )


Filter = Annotated[str, Query(max_length=20)]


def inbox_query(
    rule_id: Filter = "",
    sentiment: Filter = "",
    network: Filter = "",
    language: Filter = "",
    has_lead: Filter = "",
    has_ticket: Filter = "",
) -> dict[str, str]:
    """The inbox's filters as typed in its address (its links keep them)."""
    return {
        "rule_id": rule_id,
        "sentiment": sentiment,
        "network": network,
        "language": language,
        "has_lead": has_lead,
        "has_ticket": has_ticket,
    }


# The inbox page, its chart and its rows take the same filters.
InboxQuery = Annotated[dict[str, str], Depends(inbox_query)]
# The chart's window: a week, a month or a quarter of days (any number in between is fine too).
WINDOWS = (7, 30, 90)
Days = Annotated[int, Query(ge=min(WINDOWS), le=max(WINDOWS))]


def volume_charts(volume: service.MentionVolume) -> dict[str, Markup]:
    """The inbox's pictures: mentions per day stacked by sentiment, and the net sentiment line
    (positive minus negative, below zero on a bad day); nothing but a sentence when empty."""
    labels = [charts.short_day(d) for d in volume.days]
    dates = [d.isoformat() for d in volume.days]
    by_sentiment = [
        charts.Series(label, volume.counts[label], charts.SENTIMENT_COLOURS[label])
        for label in service.SENTIMENTS
    ]
    empty = f"No mentions in the last {len(volume.days)} days."
    pictures = {
        "volume": charts.bar_chart(
            "Mentions per day by sentiment", labels, by_sentiment, table_labels=dates, empty=empty
        )
    }
    if volume.total:
        pictures["net"] = charts.line_chart(
            "Net sentiment per day (positive minus negative mentions)",
            labels,
            [charts.Series("net sentiment", volume.net, charts.BLUE, additive=False)],
            table_labels=dates,
            min_step=1,
        )
    return pictures


def window_links(query: dict[str, str], days: int) -> list[dict[str, Any]]:
    """The 7/30/90-day links of the chart, each keeping the inbox's filters."""
    kept = {k: v for k, v in query.items() if v and k != "days"}
    return [
        {
            "days": n,
            "href": "/listening/inbox?" + urlencode({**kept, "days": n}),
            "current": n == days,
        }
        for n in WINDOWS
    ]


def _volume(ctx: Ctx, filters: service.InboxFilters, days: int) -> dict[str, Markup]:
    volume = service.mention_volume(ctx.session, filters, last=utcnow().date(), days=days)
    return volume_charts(volume)


@router.get("/listening/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    ctx: UiCtx,
    typed: InboxQuery,
    days: Days = 30,
) -> HTMLResponse:
    filters = _filters(**typed)
    page = service.list_mentions(ctx.session, filters, limit=100)
    f = {**typed, "days": str(days)}
    return render(
        request,
        ctx,
        "listening/inbox.html",
        mentions=page.items,
        slas=_sla_markers(ctx, page.items),
        rules=service.list_rules(ctx.session),
        networks=list(PROVIDERS),
        f=f,
        charts=_volume(ctx, filters, days),
        windows=window_links(f, days),
        days=days,
        notice=shown(request),
    )


@router.get("/listening/inbox/chart", response_class=HTMLResponse)
def inbox_chart(
    request: Request,
    ctx: UiCtx,
    typed: InboxQuery,
    days: Days = 30,
) -> HTMLResponse:
    """The inbox's charts alone: swapped in with the rows when filters change or mentions come."""
    filters = _filters(**typed)
    return render(request, ctx, "listening/chart.html", charts=_volume(ctx, filters, days))


@router.get("/listening/inbox/rows", response_class=HTMLResponse)
def inbox_rows(
    request: Request,
    ctx: UiCtx,
    typed: InboxQuery,
) -> HTMLResponse:
    """The inbox's rows alone: what the page swaps in when the live stream says so."""
    filters = _filters(**typed)
    page = service.list_mentions(ctx.session, filters, limit=100)
    return render(
        request, ctx, "listening/rows.html", mentions=page.items, slas=_sla_markers(ctx, page.items)
    )


def _sla_markers(ctx: Ctx, mentions: list[SocialMention]) -> dict[int, Marker]:
    """Each listed Ticket's first-response marker: "SLA breached", "due in …", "responded"."""
    ticket_ids = [m.ticket_id for m in mentions if m.ticket_id is not None]
    return crm.sla_markers(ctx.session, ticket_ids, utcnow())


@router.post("/listening/mentions/{mention_id}/ticket", response_model=None)
def ui_convert(
    request: Request,
    ctx: UiCtx,
    mention_id: int,
    csrf: CsrfField,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    outcome = service.convert_to_ticket(ctx.session, ctx.principal, mention_id)
    verb = "Opened" if outcome.created else "Joined"
    return _back_to_inbox(back, f"{verb} ticket #{outcome.ticket_id}")


@router.post("/listening/mentions/{mention_id}/lead", response_model=None)
def ui_lead(
    request: Request,
    ctx: UiCtx,
    mention_id: int,
    csrf: CsrfField,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        outcome = service.create_lead(ctx.session, ctx.principal, mention_id)
    except AppError as exc:
        ctx.session.rollback()
        return _back_to_inbox(back, exc.message)
    verb = "Created" if outcome.created else "Linked to"
    return _back_to_inbox(back, f"{verb} lead #{outcome.lead_id}")


def _back_to_inbox(back: str, notice: str) -> RedirectResponse:
    target = back if back.startswith("/listening/inbox") else "/listening/inbox"
    return RedirectResponse(with_notice(target, notice), status_code=303)
