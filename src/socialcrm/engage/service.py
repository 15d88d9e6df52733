"""Reply, comment and DM from the CRM through a connected account, exactly once per click.

The idempotency key is claimed by inserting the message row (unique per tenant) and committing
*before* the network is called, so a double click, a retried request or two browser tabs can
never send twice: the second request finds the row and gets the first one's outcome.
A send whose answer is lost (a timeout, a 5xx) may have reached the network: it is looked up
there first (the account's recent posts, the DM conversation) and adopted if found; when the
network cannot show it, the message is ``unconfirmed`` and the same key looks again.

One module: claiming the key, sending, reconciling an unconfirmed send and recording the
outcome are one protocol, and its exactly-once argument is easier to check in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.connections import service as connections
from socialcrm.connections import tokens
from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.crm import activities
from socialcrm.crm import service as crm
from socialcrm.crm.models import Activity, Contact, Lead, Ticket
from socialcrm.engage.models import (
    DeliveryStatus,
    MessageKind,
    OutboundMessage,
    TicketFirstResponse,
)
from socialcrm.providers.base import (
    CallContext,
    Capability,
    NotSupported,
    ProfileGone,
    Provider,
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected
from socialcrm.providers.registry import PROVIDERS, adapter_class
from socialcrm.publishing import listening_source, reconcile, textrules
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

DEFAULT_BRAND_ROLES = (Role.ADMIN, Role.MARKETING, Role.AGENT)
ADOPTABLE = timedelta(days=1)  # how far back other messages' network ids are kept out
# Networks whose grant must carry a DM scope (X's ``dm.write``).
DM_SCOPES = {"x": "dm.write"}


@dataclass(frozen=True, slots=True)
class SendRequest:
    kind: MessageKind
    account_id: int
    text: str
    idempotency_key: str
    in_reply_to_id: str = ""
    recipient: str = ""  # a DM's recipient: handle or network user id
    conversation_id: str = ""
    mention_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    ticket_id: int | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    message: OutboundMessage
    replayed: bool


@dataclass(frozen=True, slots=True)
class _Delivery:
    external_id: str
    url: str
    recipient_user_id: str = ""


# --- who may use which account -----------------------------------------------------------


def brand_roles(session: Session, tenant_id: int) -> tuple[str, ...]:
    tenant = session.get(Tenant, tenant_id)
    configured = (tenant.policy or {}).get("engage_brand_roles") if tenant else None
    return tuple(configured) if isinstance(configured, list) else DEFAULT_BRAND_ROLES


def may_use(session: Session, principal: Principal, account: SocialAccount) -> bool:
    if account.ownership == Ownership.BRAND:
        return principal.role in brand_roles(session, principal.tenant_id)
    return connections.owns(principal, account)


def usable_accounts(session: Session, principal: Principal) -> list[SocialAccount]:
    rows = session.scalars(
        select(SocialAccount)
        .where(SocialAccount.status == AccountStatus.ACTIVE)
        .order_by(SocialAccount.ownership, SocialAccount.provider, SocialAccount.handle)
    )
    return [a for a in rows if may_use(session, principal, a)]


# --- checks before sending ---------------------------------------------------------------


def _account(session: Session, principal: Principal, account_id: int) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None or not may_use(session, principal, account):
        raise Forbidden(
            f"connected account {account_id} is not one you may send from",
            details={"account_id": account_id},
        )
    if account.status != AccountStatus.ACTIVE:
        raise ValidationFailed(
            f"@{account.handle} is {account.status}: reconnect it first",
            details={"account_id": account_id},
        )
    return account


def _check_capability(account: SocialAccount, kind: MessageKind) -> None:
    needed = Capability.DM if kind == MessageKind.DM else Capability.REPLY
    info = PROVIDERS.get(account.provider)
    if info is None or needed not in info.capabilities:
        raise ValidationFailed(
            f"{account.provider} does not allow {kind.value}s through its API",
            details={"network": account.provider},
        )
    scope = DM_SCOPES.get(account.provider)
    if kind == MessageKind.DM and scope and account.scopes and scope not in account.scopes:
        raise ValidationFailed(
            f"@{account.handle} was connected without permission to send DMs ({scope}): "
            "reconnect it to grant it",
            details={"missing_scope": scope},
        )


def _check_text(network: str, kind: MessageKind, text: str) -> None:
    counted = textrules.count(network, text, direct_message=kind == MessageKind.DM)
    if not counted.fits:
        raise ValidationFailed(
            "the message is empty" if counted.used == 0 else f"too long for {network}",
            details={
                "network": network,
                "used": counted.used,
                "limit": counted.limit,
                "unit": counted.unit,
            },
        )


def _check_records(session: Session, req: SendRequest) -> None:
    for field, model in (("contact_id", Contact), ("lead_id", Lead), ("ticket_id", Ticket)):
        ref = getattr(req, field)
        if ref is not None and session.get(model, ref) is None:
            raise ValidationFailed(f"{field} {ref} does not exist", details={"field": field})


def _with_mention(session: Session, req: SendRequest) -> SendRequest:
    """A reply to a listening mention inherits its post, thread and CRM records."""
    if req.mention_id is None:
        return req
    mention = listening_source.mention_context(session, req.mention_id)
    if mention is None:
        raise ValidationFailed(f"mention {req.mention_id} not found")
    is_dm = req.kind == MessageKind.DM
    return SendRequest(
        kind=req.kind,
        account_id=req.account_id,
        text=req.text,
        idempotency_key=req.idempotency_key,
        in_reply_to_id=req.in_reply_to_id or ("" if is_dm else mention["external_id"]),
        recipient=req.recipient or (mention["author_user_id"] if is_dm else ""),
        conversation_id=req.conversation_id or mention["conversation_id"],
        mention_id=req.mention_id,
        contact_id=req.contact_id or mention["contact_id"],
        lead_id=req.lead_id or mention["lead_id"],
        ticket_id=req.ticket_id or mention["ticket_id"],
    )


def _with_known_post(session: Session, req: SendRequest, network: str) -> SendRequest:
    """A reply to a post listening stored (e.g. typed on a Contact's page) is a reply to that
    mention: it answers the mention's Ticket too."""
    if req.mention_id is not None or req.kind == MessageKind.DM or not req.in_reply_to_id:
        return req
    mention_id = listening_source.mention_id_of(session, network, req.in_reply_to_id)
    if mention_id is None:
        return req
    return _with_mention(session, dataclasses.replace(req, mention_id=mention_id))


# --- sending -----------------------------------------------------------------------------


def _find(session: Session, key: str) -> OutboundMessage | None:
    return session.scalars(
        select(OutboundMessage).where(OutboundMessage.idempotency_key == key)
    ).first()


def _claim(db: Database, principal: Principal, req: SendRequest) -> Sent:
    with db.session(tenant_id=principal.tenant_id) as session:
        existing = _find(session, req.idempotency_key)
        if existing is not None:
            session.expunge(existing)
            return Sent(existing, True)
        req = _with_mention(session, req)
        account = _account(session, principal, req.account_id)
        req = _with_known_post(session, req, account.provider)
        _check_capability(account, req.kind)
        _check_text(account.provider, req.kind, req.text)
        _check_records(session, req)
        if req.kind == MessageKind.DM and not req.recipient.strip():
            raise ValidationFailed("a DM needs a recipient (handle or user id)")
        if req.kind != MessageKind.DM and not req.in_reply_to_id.strip():
            raise ValidationFailed(f"a {req.kind.value} needs in_reply_to_id (the post's id)")
        activity = activities.log_activity(
            session,
            kind=f"social_{req.kind.value}",
            subject=_subject(req.kind, account, DeliveryStatus.SENDING),
            body=req.text,
            contact_id=req.contact_id,
            ticket_id=req.ticket_id,
            social_account_id=account.id,
            occurred_at=utcnow(),
        )
        message = OutboundMessage(
            idempotency_key=req.idempotency_key,
            kind=req.kind,
            social_account_id=account.id,
            network=account.provider,
            sender_user_id=principal.user_id,
            actor=principal.actor,
            text=req.text,
            in_reply_to_id=req.in_reply_to_id,
            recipient_handle=req.recipient if req.kind == MessageKind.DM else "",
            conversation_id=req.conversation_id
            or (f"dm:{req.recipient}" if req.kind == MessageKind.DM else req.in_reply_to_id),
            mention_id=req.mention_id,
            contact_id=req.contact_id,
            lead_id=req.lead_id,
            ticket_id=req.ticket_id,
            activity_id=activity.id,
            status=DeliveryStatus.SENDING,
        )
        session.add(message)
        session.flush()
        audit.record(
            session,
            actor=principal.actor,
            action=f"engage.{req.kind.value}",
            target_type="outbound_message",
            target_id=message.id,
            details={"account_id": account.id, "network": account.provider},
        )
        session.expunge(message)
        return Sent(message, False)


def _subject(kind: MessageKind, account: SocialAccount, status: DeliveryStatus) -> str:
    label = {"reply": "Reply", "comment": "Comment", "dm": "Direct message"}[kind.value]
    return f"{label} from {account.provider} @{account.handle} · {status.value}"[:300]


def send(db: Database, principal: Principal, req: SendRequest) -> Sent:
    """Check, claim the key, send through the network, record the outcome."""
    if not req.idempotency_key.strip():
        raise ValidationFailed("an idempotency key is required")
    try:
        claimed = _claim(db, principal, req)
    except IntegrityError:  # the same key won a race a moment ago
        with db.session(tenant_id=principal.tenant_id) as session:
            existing = _find(session, req.idempotency_key)
            if existing is None:
                raise
            session.expunge(existing)
            return Sent(existing, True)
    if claimed.replayed:
        if claimed.message.status != DeliveryStatus.UNCONFIRMED:
            return claimed
        # The same key again after a send nobody could confirm: look again, never re-send.
        checked = _settle(db, claimed.message, f"{claimed.message.network} did not answer")
        return Sent(checked.message, True)
    message = claimed.message
    try:
        delivery: _Delivery = tokens.with_account(
            db, principal.tenant_id, message.social_account_id, _deliver(message)
        )
    except RateLimited as exc:
        return _finish(
            db,
            message,
            None,
            f"rate limited by {message.network} until {exc.retry_at:%H:%M} UTC; try again then",
        )
    except TransientProviderError:  # a timeout or 5xx: it may have been sent all the same
        return _settle(db, message, f"{message.network} did not answer")
    except (ReconnectRequired, connections.AccountNotActive, NotFound):
        return _finish(db, message, None, "the account needs reconnecting")
    except ProfileGone as exc:
        return _finish(db, message, None, f"not found on {message.network}: {exc}")
    except (RequestRejected, NotSupported) as exc:
        return _finish(db, message, None, f"{message.network} refused it: {exc}")
    except ProviderError as exc:
        return _finish(db, message, None, f"{message.network} error: {exc}")
    return _finish(db, message, delivery, "")


def _deliver(message: OutboundMessage) -> Any:
    kind, text = MessageKind(message.kind), message.text
    in_reply_to, recipient = message.in_reply_to_id, message.recipient_handle

    async def act(provider: Provider, ctx: CallContext) -> _Delivery:
        if kind == MessageKind.DM:
            user_id = recipient
            if not adapter_class(provider.name).looks_like_user_id(recipient):
                user_id = (await provider.lookup_handle(ctx, recipient)).user_id
            return _Delivery(await provider.send_dm(ctx, user_id, text), "", user_id)
        parent = await provider.metrics(ctx, in_reply_to)  # the post, with what a reply needs
        sent = await provider.reply(ctx, parent, text)
        return _Delivery(sent.id, sent.url)

    return act


def _settle(db: Database, message: OutboundMessage, what: str) -> Sent:
    """A send that may have reached the network: look for it there before saying anything.
    Found: sent (adopted). Not there: failed, safe to send again. Cannot tell (the network
    cannot show it, or does not answer): unconfirmed, and the user is told to check."""
    taken = _taken_ids(db, message)
    try:
        found: _Delivery | None = tokens.with_account(
            db, message.tenant_id, message.social_account_id, _look_for(message, taken)
        )
    except (ProviderError, connections.AccountNotActive, NotFound):
        reason = f"{what}; it may have been sent: check on {message.network} before sending again"
        return _finish(db, message, None, reason, DeliveryStatus.UNCONFIRMED)
    if found is None:
        return _finish(db, message, None, f"{what} and does not show it: not sent, try again")
    log.info("engage_adopted", message_id=message.id, external_id=found.external_id)
    return _finish(db, message, found, "")


def _taken_ids(db: Database, message: OutboundMessage) -> frozenset[str]:
    """Network ids other messages of the account already own: never adopted twice."""
    with db.session(tenant_id=message.tenant_id) as session:
        return frozenset(
            session.scalars(
                select(OutboundMessage.external_id).where(
                    OutboundMessage.social_account_id == message.social_account_id,
                    OutboundMessage.id != message.id,
                    OutboundMessage.external_id != "",
                    OutboundMessage.created_at >= message.created_at - ADOPTABLE,
                )
            )
        )


def _look_for(message: OutboundMessage, taken: frozenset[str]) -> Any:
    kind, text, since = MessageKind(message.kind), message.text, message.created_at
    in_reply_to = message.in_reply_to_id
    recipient = message.recipient_user_id or message.recipient_handle

    async def act(provider: Provider, ctx: CallContext) -> _Delivery | None:
        if kind == MessageKind.DM:
            user_id = recipient
            if not adapter_class(provider.name).looks_like_user_id(recipient):
                user_id = (await provider.lookup_handle(ctx, recipient)).user_id
            history = await provider.dm_history(ctx, user_id)
            ours = [m for m in history if m.author_user_id == ctx.user_id]
            found = reconcile.find_published(ours, text, since=since, taken=taken)
            return _Delivery(found.id, "", user_id) if found else None
        recent = await provider.posts(ctx, ctx.user_id, reconcile.RECENT_POSTS)
        found = reconcile.find_published(
            recent, text, since=since, taken=taken, in_reply_to_id=in_reply_to
        )
        return _Delivery(found.id, found.url) if found else None

    return act


def _finish(
    db: Database,
    message: OutboundMessage,
    delivery: _Delivery | None,
    reason: str,
    unsent: DeliveryStatus = DeliveryStatus.FAILED,
) -> Sent:
    """Record the outcome: ``delivery`` when sent, else ``reason`` with the ``unsent`` status
    (failed, or unconfirmed when nobody can tell)."""
    with db.session(tenant_id=message.tenant_id) as session:
        row = session.get(OutboundMessage, message.id)
        if row is None:
            raise NotFound(f"message {message.id} not found")
        account = session.get(SocialAccount, row.social_account_id)
        if delivery is not None:
            row.status = DeliveryStatus.SENT
            row.external_id = delivery.external_id
            row.url = delivery.url
            row.recipient_user_id = delivery.recipient_user_id
            row.sent_at = utcnow()
        else:
            row.status = unsent
            row.error = reason[:500]
        activity = session.get(Activity, row.activity_id) if row.activity_id else None
        if activity is not None and account is not None:
            label = "unconfirmed" if unsent == DeliveryStatus.UNCONFIRMED else "not delivered"
            crm.update(
                session,
                Activity,
                activity.id,
                {
                    "subject": _subject(MessageKind(row.kind), account, DeliveryStatus(row.status)),
                    "external_id": row.external_id,
                    "body": f"{row.text}\n\n[{label}: {reason}]" if reason else row.text,
                },
            )
        if delivery is not None and row.ticket_id is not None:
            _first_response(session, row)
        session.flush()
        session.expunge(row)
        return Sent(row, False)


def _first_response(session: Session, message: OutboundMessage) -> None:
    """A sent reply, comment or DM from a Ticket stops its first-response clock (only the
    first counts). The Ticket's conditional UPDATE goes first: it serialises racing replies,
    so the second one sees the first one's record."""
    if message.ticket_id is not None:
        crm.record_first_response(session, message.ticket_id, message.sent_at or utcnow())
    exists = session.scalars(
        select(TicketFirstResponse).where(TicketFirstResponse.ticket_id == message.ticket_id)
    ).first()
    if exists is None and message.ticket_id is not None:
        session.add(
            TicketFirstResponse(
                ticket_id=message.ticket_id,
                message_id=message.id,
                responded_at=message.sent_at or utcnow(),
            )
        )


# --- reading -----------------------------------------------------------------------------


def get_message(session: Session, message_id: int) -> OutboundMessage:
    message = session.get(OutboundMessage, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return message


def list_messages(
    session: Session,
    *,
    contact_id: int | None = None,
    ticket_id: int | None = None,
    limit: int = 50,
) -> Sequence[OutboundMessage]:
    stmt = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if contact_id is not None:
        stmt = stmt.where(OutboundMessage.contact_id == contact_id)
    if ticket_id is not None:
        stmt = stmt.where(OutboundMessage.ticket_id == ticket_id)
    return list(session.scalars(stmt))


def first_response(session: Session, ticket_id: int) -> TicketFirstResponse | None:
    if session.get(Ticket, ticket_id) is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return session.scalars(
        select(TicketFirstResponse).where(TicketFirstResponse.ticket_id == ticket_id)
    ).first()


def _outbound(m: OutboundMessage) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "message_id": m.id,
        "kind": m.kind,
        "text": m.text,
        "status": m.status,
        "external_id": m.external_id,
        "url": m.url,
        "error": m.error,
        "at": m.sent_at or m.created_at,
    }


def thread(session: Session, network: str, conversation_id: str) -> list[dict[str, Any]]:
    """One conversation: inbound mentions/DMs (listening) and our outbound messages, in order."""
    outbound = session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.network == network,
            OutboundMessage.conversation_id == conversation_id,
        )
    )
    items = listening_source.inbound_thread(session, network, conversation_id)
    items += [_outbound(m) for m in outbound]
    return sorted(items, key=lambda item: item["at"])


def ticket_thread(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """A Ticket's conversation, oldest first: the mentions and DMs that opened or joined it
    with the rest of their threads, and what was sent from the CRM on it or in them."""
    inbound, conversations = listening_source.ticket_inbound(session, ticket_id)
    on_ticket = [OutboundMessage.ticket_id == ticket_id] + [
        and_(OutboundMessage.network == network, OutboundMessage.conversation_id == conversation)
        for network, conversation in conversations
    ]
    outbound = session.scalars(
        select(OutboundMessage).where(or_(*on_ticket)).order_by(OutboundMessage.id).limit(200)
    )
    items = inbound + [_outbound(m) for m in outbound]
    return sorted(items, key=lambda item: item["at"])


def reply_to_ticket(
    db: Database,
    principal: Principal,
    ticket_id: int,
    *,
    mention_id: int,
    account_id: int,
    text: str,
    idempotency_key: str,
) -> Sent:
    """Answer one message of a Ticket's conversation where it was said: a reply to a post, a
    DM to a DM. The reply belongs to the Ticket (its first-response clock stops when sent)."""
    with db.session(tenant_id=principal.tenant_id) as session:
        crm.get(session, Ticket, ticket_id)
        inbound, _ = listening_source.ticket_inbound(session, ticket_id)
        said = next((i for i in inbound if i["mention_id"] == mention_id), None)
    if said is None:
        raise ValidationFailed(
            "choose a message of this ticket's conversation to answer",
            details={"field": "mention_id"},
        )
    kind = MessageKind.DM if said["kind"] == "dm" else MessageKind.REPLY
    return send(
        db,
        principal,
        SendRequest(
            kind=kind,
            account_id=account_id,
            text=text,
            idempotency_key=idempotency_key,
            mention_id=mention_id,
            ticket_id=ticket_id,
        ),
    )
