"""HTTP API of listening (thin), the live notification stream and the webhook receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import Unauthenticated, ValidationFailed
from socialcrm.core.settings import get_settings
from socialcrm.core.web.context import ApiCtx, login_principal
from socialcrm.listening import hooks, ingestion, live, schemas, service
from socialcrm.listening.models import InboundWebhook, WebhookSubscription
from socialcrm.listening.policy import ListeningPolicy
from socialcrm.tenancy.service import authenticate_api_key

router = APIRouter(prefix="/api", tags=["listening"])
hooks_router = APIRouter(prefix="/hooks/listening", tags=["listening: webhooks in"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


# --- settings -----------------------------------------------------------------------------


@router.get("/listening/settings", response_model=ListeningPolicy)
def get_listening_settings(ctx: ApiCtx) -> ListeningPolicy:
    return service.tenant_policy(ctx.session, ctx.principal.tenant_id)


@router.put("/listening/settings", response_model=ListeningPolicy)
def put_listening_settings(ctx: ApiCtx, body: ListeningPolicy) -> ListeningPolicy:
    """The languages the tenant's mentions are expected in (admin)."""
    return service.update_policy(ctx.session, ctx.principal, body)


# --- rules --------------------------------------------------------------------------------


@router.get("/listening/rules", response_model=list[schemas.RuleOut])
def list_rules(ctx: ApiCtx) -> Any:
    return service.list_rules(ctx.session)


@router.post("/listening/rules", status_code=201, response_model=schemas.RuleOut)
def create_rule(ctx: ApiCtx, body: schemas.RuleIn) -> Any:
    return service.create_rule(ctx.session, ctx.principal, body.values())


@router.post("/listening/rules/preview", response_model=schemas.PreviewOut)
def preview_rule(ctx: ApiCtx, body: schemas.RuleFields) -> Any:
    """What this rule would have matched in the last 7 days (nothing is saved)."""
    result = service.preview(ctx.session, body.values())
    return schemas.PreviewOut(
        days=service.PREVIEW_DAYS,
        scanned=result.scanned,
        matched=result.matched,
        samples=[schemas.MentionOut.model_validate(m) for m in result.samples],
    )


@router.get("/listening/rules/{rule_id}", response_model=schemas.RuleOut)
def get_rule(ctx: ApiCtx, rule_id: RecordId) -> Any:
    return service.get_rule(ctx.session, rule_id)


@router.patch("/listening/rules/{rule_id}", response_model=schemas.RuleOut)
def update_rule(ctx: ApiCtx, rule_id: RecordId, body: schemas.RulePatch) -> Any:
    try:
        changes = body.changes()
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    return service.update_rule(ctx.session, ctx.principal, rule_id, changes)


@router.delete("/listening/rules/{rule_id}", status_code=204)
def delete_rule(ctx: ApiCtx, rule_id: RecordId) -> Response:
    service.delete_rule(ctx.session, ctx.principal, rule_id)
    return Response(status_code=204)


# --- mentions -----------------------------------------------------------------------------


@router.get("/listening/mentions", response_model=schemas.MentionPage)
def list_mentions(
    ctx: ApiCtx,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    sentiment: Annotated[schemas.SentimentLabel | None, Query()] = None,
    network: Annotated[str | None, Query(max_length=20)] = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    has_lead: bool | None = None,
    has_ticket: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    filters = service.InboxFilters(rule_id, sentiment, network, language, has_lead, has_ticket)
    page = service.list_mentions(ctx.session, filters, limit=limit, cursor=cursor)
    return schemas.MentionPage(
        items=[schemas.MentionOut.model_validate(m) for m in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/listening/mentions/{mention_id}", response_model=schemas.MentionOut)
def get_mention(ctx: ApiCtx, mention_id: RecordId) -> Any:
    return service.get_mention(ctx.session, mention_id)


@router.post("/listening/mentions/{mention_id}/ticket", response_model=schemas.TicketResult)
def convert_to_ticket(ctx: ApiCtx, mention_id: RecordId, response: Response) -> Any:
    outcome = service.convert_to_ticket(ctx.session, ctx.principal, mention_id)
    response.status_code = 201 if outcome.created else 200
    return schemas.TicketResult(ticket_id=outcome.ticket_id, created=outcome.created)


@router.post("/listening/mentions/{mention_id}/lead", response_model=schemas.LeadResult)
def create_lead(ctx: ApiCtx, mention_id: RecordId, response: Response) -> Any:
    outcome = service.create_lead(ctx.session, ctx.principal, mention_id)
    response.status_code = 201 if outcome.created else 200
    return schemas.LeadResult(lead_id=outcome.lead_id, created=outcome.created)


# --- lead routing -------------------------------------------------------------------------


@router.get("/listening/routing-rules", response_model=list[schemas.RoutingRuleOut])
def list_routing(ctx: ApiCtx) -> Any:
    return service.list_routing_rules(ctx.session)


@router.post("/listening/routing-rules", status_code=201, response_model=schemas.RoutingRuleOut)
def create_routing(ctx: ApiCtx, body: schemas.RoutingRuleIn) -> Any:
    return service.create_routing_rule(ctx.session, ctx.principal, body.model_dump())


@router.delete("/listening/routing-rules/{rule_id}", status_code=204)
def delete_routing(ctx: ApiCtx, rule_id: RecordId) -> Response:
    service.delete_routing_rule(ctx.session, ctx.principal, rule_id)
    return Response(status_code=204)


# --- webhooks in and out ------------------------------------------------------------------


def _hook_url(endpoint: InboundWebhook) -> str:
    return f"{get_settings().base_url.rstrip('/')}/hooks/listening/{endpoint.token}"


def _endpoint_out(
    endpoint: InboundWebhook, secret: str | None = None, verify_token: str | None = None
) -> schemas.InboundWebhookOut:
    return schemas.InboundWebhookOut(
        id=endpoint.id,
        style=endpoint.style,
        network=endpoint.network,
        url=_hook_url(endpoint),
        account_id=endpoint.account_id,
        campaign_id=endpoint.campaign_id,
        active=endpoint.active,
        secret=secret,
        verify_token=verify_token,
    )


@router.get("/listening/webhook-endpoints", response_model=list[schemas.InboundWebhookOut])
def list_endpoints(ctx: ApiCtx) -> Any:
    return [_endpoint_out(e) for e in service.list_inbound_webhooks(ctx.session, ctx.principal)]


@router.post(
    "/listening/webhook-endpoints", status_code=201, response_model=schemas.InboundWebhookOut
)
def create_endpoint(ctx: ApiCtx, body: schemas.InboundWebhookIn) -> Any:
    made = service.create_inbound_webhook(ctx.session, ctx.principal, body.model_dump())
    return _endpoint_out(made.endpoint, made.secret, made.verify_token)


@router.delete("/listening/webhook-endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(ctx: ApiCtx, endpoint_id: RecordId) -> Response:
    service.delete_inbound_webhook(ctx.session, ctx.principal, endpoint_id)
    return Response(status_code=204)


def _sub_out(sub: WebhookSubscription, secret: str | None = None) -> schemas.SubscriptionOut:
    return schemas.SubscriptionOut(
        id=sub.id, url=sub.url, events=list(sub.events), active=sub.active, secret=secret
    )


@router.get("/listening/webhook-subscriptions", response_model=list[schemas.SubscriptionOut])
def list_subscriptions(ctx: ApiCtx) -> Any:
    return [_sub_out(s) for s in service.list_subscriptions(ctx.session, ctx.principal)]


@router.post(
    "/listening/webhook-subscriptions", status_code=201, response_model=schemas.SubscriptionOut
)
def create_subscription(ctx: ApiCtx, body: schemas.SubscriptionIn) -> Any:
    values = {"url": str(body.url), "events": sorted(set(body.events))}
    sub, secret = service.create_subscription(ctx.session, ctx.principal, values)
    return _sub_out(sub, secret)


@router.delete("/listening/webhook-subscriptions/{sub_id}", status_code=204)
def delete_subscription(ctx: ApiCtx, sub_id: RecordId) -> Response:
    service.delete_subscription(ctx.session, ctx.principal, sub_id)
    return Response(status_code=204)


@hooks_router.get("/{token}", response_model=None)
def webhook_challenge(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    """The network's subscription check: X's CRC, Meta's verify-token challenge."""
    endpoint = ingestion.find_endpoint(get_database(), token)
    params = request.query_params
    if endpoint.style == "x":
        crc = params.get("crc_token", "")
        if not hooks.valid_crc_token(crc):
            # Never echoed back: the token is refused, not reflected.
            raise ValidationFailed(
                "crc_token must be 8 to 128 base64 characters, as X sends it",
                details={"pattern": hooks.CRC_TOKEN.pattern},
            )
        return JSONResponse({"response_token": hooks.x_crc_response(endpoint.secret, crc)})
    if params.get("hub.mode") != "subscribe" or params.get("hub.verify_token") != (
        endpoint.verify_token
    ):
        raise Unauthenticated("the verify token does not match")
    return PlainTextResponse(params.get("hub.challenge", ""))


@hooks_router.post("/{token}")
async def webhook_receive(
    request: Request, token: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """A signed event: verified over the raw body, then fed to the ingestion pipeline."""
    from starlette.concurrency import run_in_threadpool

    endpoint = await run_in_threadpool(ingestion.find_endpoint, get_database(), token)
    body = await request.body()  # capped while it streams (web/limits.py): 413 past 1 MiB
    if not hooks.verify(endpoint.style, endpoint.secret, body, request.headers):
        raise Unauthenticated("the signature does not match")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed("the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("the payload is not a JSON object")
    result = await run_in_threadpool(ingestion.receive_webhook, get_database(), endpoint, payload)
    return {"received": result.received, "stored": result.stored, "duplicates": result.duplicates}


# --- the live stream ----------------------------------------------------------------------


def _stream_tenant(request: Request) -> int:
    """API key (Authorization: Bearer) or the UI's login session: EventSource sends cookies."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    db = get_database()
    if scheme.lower() == "bearer" and token.strip():
        with db.session(system=True) as session:
            return authenticate_api_key(session, token.strip()).tenant_id
    principal = login_principal(request)
    if principal is not None:
        return principal.tenant_id
    raise Unauthenticated("send an API key as 'Authorization: Bearer <key>' or log in")


@router.get("/notifications/stream", response_class=StreamingResponse)
async def notification_stream(
    request: Request, heartbeat: Annotated[float, Query(ge=0.05, le=60)] = 15.0
) -> StreamingResponse:
    """Server-sent events of the caller's tenant: ``mentions``, ``lead``, ``ticket``,
    ``notification``; a comment line at each quiet heartbeat."""
    from starlette.concurrency import run_in_threadpool

    tenant_id = await run_in_threadpool(_stream_tenant, request)

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n: connected\n\n"
        async for raw in live.subscribe(tenant_id, heartbeat):
            if await request.is_disconnected():
                return
            if raw is None:
                yield ": ping\n\n"
                continue
            message = json.loads(raw)
            yield f"event: {message['event']}\ndata: {json.dumps(message['data'])}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
