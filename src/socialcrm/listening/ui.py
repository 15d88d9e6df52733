"""UI of listening: the rules editor with its 7-day preview, and the live mentions inbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import MAX_ID, utcnow
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.crm import service as crm
from socialcrm.crm.models import Campaign
from socialcrm.crm.sla import Marker
from socialcrm.listening import schemas, service
from socialcrm.listening.models import ListeningRule, SocialMention
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.models import User
from socialcrm.web.deps import Ctx
from socialcrm.web.ui import CsrfField, UiCtx, _check_csrf, render

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
) -> HTMLResponse:
    return render(
        request,
        ctx,
        "listening/rules.html",
        status=status,
        editing=editing,
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
    _check_csrf(request, form.get("csrf", ""))
    try:
        body = schemas.RuleIn.model_validate({**_rule_form(form), "name": form.get("name", "")})
        service.create_rule(ctx.session, ctx.principal, body.values())
    except ValidationError as exc:
        return _editor(request, ctx, error=_first_error(exc), status=400)
    except AppError as exc:
        ctx.session.rollback()
        return _editor(request, ctx, error=exc.message, status=exc.status_code)
    return RedirectResponse("/listening/rules", status_code=303)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'not valid')}"


@router.post("/listening/rules/preview", response_class=HTMLResponse)
async def preview_rule(request: Request, ctx: UiCtx) -> HTMLResponse:
    form = await _form_dict(request)
    _check_csrf(request, form.get("csrf", ""))
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
    _check_csrf(request, csrf)
    rule = service.get_rule(ctx.session, rule_id)
    service.update_rule(ctx.session, ctx.principal, rule_id, {"active": not rule.active})
    return RedirectResponse("/listening/rules", status_code=303)


@router.post("/listening/rules/{rule_id}/delete", response_model=None)
def delete_rule(request: Request, ctx: UiCtx, rule_id: int, csrf: CsrfField) -> Response:
    _check_csrf(request, csrf)
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
    _check_csrf(request, form.get("csrf", ""))
    rule = service.get_rule(ctx.session, rule_id)
    try:
        body = schemas.RuleIn.model_validate({**_rule_form(form), "name": form.get("name", "")})
        changes = {k: v for k, v in body.values().items() if k not in _NOT_IN_FORM}
        service.update_rule(ctx.session, ctx.principal, rule_id, changes)
    except ValidationError as exc:
        return _editor(request, ctx, error=_first_error(exc), status=400, editing=rule)
    except AppError as exc:
        ctx.session.rollback()
        rule = service.get_rule(ctx.session, rule_id)
        return _editor(request, ctx, error=exc.message, status=exc.status_code, editing=rule)
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


@router.get("/listening/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    ctx: UiCtx,
    rule_id: Filter = "",
    sentiment: Filter = "",
    network: Filter = "",
    language: Filter = "",
    has_lead: Filter = "",
    has_ticket: Filter = "",
    notice: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    filters = _filters(rule_id, sentiment, network, language, has_lead, has_ticket)
    page = service.list_mentions(ctx.session, filters, limit=100)
    return render(
        request,
        ctx,
        "listening/inbox.html",
        mentions=page.items,
        slas=_sla_markers(ctx, page.items),
        rules=service.list_rules(ctx.session),
        networks=list(PROVIDERS),
        f={
            "rule_id": rule_id,
            "sentiment": sentiment,
            "network": network,
            "language": language,
            "has_lead": has_lead,
            "has_ticket": has_ticket,
        },
        notice=notice,
    )


@router.get("/listening/inbox/rows", response_class=HTMLResponse)
def inbox_rows(
    request: Request,
    ctx: UiCtx,
    rule_id: Filter = "",
    sentiment: Filter = "",
    network: Filter = "",
    language: Filter = "",
    has_lead: Filter = "",
    has_ticket: Filter = "",
) -> HTMLResponse:
    """The inbox's rows alone: what the page swaps in when the live stream says so."""
    filters = _filters(rule_id, sentiment, network, language, has_lead, has_ticket)
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
    _check_csrf(request, csrf)
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
    _check_csrf(request, csrf)
    try:
        outcome = service.create_lead(ctx.session, ctx.principal, mention_id)
    except AppError as exc:
        ctx.session.rollback()
        return _back_to_inbox(back, exc.message)
    verb = "Created" if outcome.created else "Linked to"
    return _back_to_inbox(back, f"{verb} lead #{outcome.lead_id}")


def _back_to_inbox(back: str, notice: str) -> RedirectResponse:
    from urllib.parse import quote

    target = back if back.startswith("/listening/inbox") else "/listening/inbox"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}notice={quote(notice)}", status_code=303)
