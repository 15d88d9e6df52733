"""Demo data that teaches the product: a tenant, its people, Contacts and Accounts drawn from
the sandbox world, the brand's accounts connected on three networks, their recent mentions
(the world's posts are moved so the newest is minutes old), listening rules that turn them into
Tickets and Leads, a campaign with published posts, clicks and engagement, and two emails.

Everything goes through the same services a person's clicks use; nothing is written to tables
directly. Loaded once (the first start), the login and API key are printed at every start.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from socialcrm.connections import connecting
from socialcrm.connections import service as connections
from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.principal import Principal, Role
from socialcrm.core.settings import Settings
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account, Contact, Tier
from socialcrm.tenancy.models import User
from socialcrm.tenancy.service import create_api_key, create_user, get_or_create_tenant
from socialcrm_sandbox.schema import DEMO_WORLD_PATH

DEMO_TENANT = "Acme Outdoor"
DEMO_ADMIN = "admin@acme.test"
DEMO_AGENT = "agent@acme.test"
DEMO_PASSWORD = "socialcrm-demo"  # noqa: S105 - printed for the local demo on purpose
DEMO_WORLD = DEMO_WORLD_PATH
DEMO_APPS = {
    network: (f"demo-{network}-client", f"demo-{network}-secret")
    for network in ("x", "mastodon", "linkedin", "facebook", "instagram", "youtube", "tiktok")
}


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    api_key: str


def load_demo(db: Database, settings: Settings, sandbox_url: str) -> DemoLogin:
    """Idempotent: safe to run at every start."""
    from socialcrm.wiring import wire

    wire()  # the demo's Contacts are linked into the identity graph as they are saved
    world = json.loads(DEMO_WORLD.read_text())
    _register_sandbox_apps(sandbox_url, settings.base_url)
    first_start = False
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, DEMO_TENANT)
        tenant_id = tenant.id
        if session.scalars(select(User).where(User.email == DEMO_ADMIN)).first() is None:
            first_start = True
            admin = create_user(
                session,
                tenant=tenant,
                email=DEMO_ADMIN,
                password=DEMO_PASSWORD,
                role=Role.ADMIN,
                name="Avery Admin",
            )
            create_user(
                session,
                tenant=tenant,
                email=DEMO_AGENT,
                password=DEMO_PASSWORD,
                role=Role.AGENT,
                name="Sam Agent",
            )
            session.info.update(system=False, tenant_id=tenant_id)
            _seed_records(session, world)
            principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=admin.id)
            for provider, (client_id, secret) in DEMO_APPS.items():
                connections.set_provider_app(
                    session, principal, provider=provider, client_id=client_id, client_secret=secret
                )
            admin_id = admin.id
    if first_start:
        _seed_social(db, Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=admin_id))
    return DemoLogin(DEMO_ADMIN, DEMO_PASSWORD, _demo_api_key(db, settings, tenant_id))


BANNER_WIDTH = 80


def demo_banner(base_url: str, login: DemoLogin, sandbox_url: str) -> list[str]:
    """What ``make run`` prints once the demo is up: short lines (an 80-column terminal shows
    each on one line, so the key and the command copy whole), the API key last but one."""
    title = "── socialcrm demo "
    lines = [
        title + "─" * (BANNER_WIDTH - len(title)),
        f"Open      {base_url}",
        f"Log in    {login.email} / {login.password}",
        f"          (or {DEMO_AGENT}, an agent's view)",
        f"Sandbox   {sandbox_url}",
        "          (its consent pages; Bluesky app password: app-password)",
        f"API key   {login.api_key}",
        f"Try       export KEY={login.api_key}",
        '          curl -H "Authorization: Bearer $KEY" \\',
        f"            {base_url.rstrip('/')}/api/contacts",
        "Logs      the queue's routine work shows with SOCIALCRM_LOG_LEVEL=debug",
        "─" * BANNER_WIDTH,
    ]
    return lines


def demo_world(now: datetime, sandbox_url: str) -> dict[str, Any]:
    """The demo world as of ``now``: the posts keep their order, spread over the last week
    with the newest 20 minutes old (mentions from last year would teach nothing), and every
    account's picture is served by the sandbox itself (no outside host: works offline)."""
    world: dict[str, Any] = copy.deepcopy(json.loads(DEMO_WORLD.read_text()))
    posts = [
        post
        for person in world["people"]
        for account in person.get("accounts", [])
        for post in account.get("posts", [])
    ]
    # By rank, not by distance: the world's posts bunch in a few months, and squeezing their
    # distances would leave most mentions a week old and none from today.
    times = [_parse_time(post["created_at"]) for post in posts]
    newest_first = sorted(set(times), reverse=True)
    ranks = {made: rank for rank, made in enumerate(newest_first)}
    latest, count = now - timedelta(minutes=20), max(len(ranks), 1)
    for post, made in zip(posts, times, strict=True):
        ago = RECENT_WEEK * (ranks[made] / count) ** 2  # today busy, last week sparse
        post["created_at"] = (latest - ago).strftime("%Y-%m-%dT%H:%M:%SZ")
    for person in world["people"]:
        picture = f"{sandbox_url.rstrip('/')}/_sandbox/avatars/{avatar_slug(person['name'])}.svg"
        for account in person.get("accounts", []):
            account["avatar_url"] = picture
    return world


RECENT_WEEK = timedelta(days=7)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def avatar_slug(name: str) -> str:
    """``Tomás Herrera`` → ``tomas-herrera``: the picture's name at the sandbox."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c for c in word if c.isalnum()) for word in plain.split())[:60]


def _register_sandbox_apps(sandbox_url: str, base_url: str) -> None:
    """The demo's OAuth clients, registered with our own redirect URIs (any host and port)."""
    for provider, (client_id, secret) in DEMO_APPS.items():
        httpx.post(
            f"{sandbox_url}/_sandbox/apps",
            json={
                "network": provider,
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": [f"{base_url.rstrip('/')}/oauth/callback/{provider}"],
            },
            timeout=10,
        ).raise_for_status()


def _seed_records(session: Any, world: dict[str, Any]) -> None:
    companies: dict[str, Account] = {}
    tiers = [Tier.STANDARD, Tier.GOLD, Tier.STANDARD, Tier.PLATINUM]
    for index, person in enumerate(world.get("people", [])):
        company = person.get("company", "")
        if company and company not in companies:
            companies[company] = crm.create(
                session, Account, {"name": company, "website": person.get("website", "")}
            )
        handles = [
            {"network": a["network"], "handle": a["handle"], "user_id": a["user_id"]}
            for a in person.get("accounts", [])[:1]
        ]
        crm.create(
            session,
            Contact,
            {
                "name": person["name"],
                "emails": person.get("emails", []),
                "company": company,
                "location": person.get("location", ""),
                "website": person.get("website", ""),
                "handles": handles,
                "tier": tiers[index % len(tiers)],
                "account_id": companies[company].id if company else None,
                "enrichment_consent": index % 3 != 2,
            },
        )


# --- the brand's social life: accounts, rules, a campaign, posts, clicks, mentions, emails --------

BRAND_OAUTH = (("x", "acmeoutdoor"), ("mastodon", "acmeoutdoor"))
BRAND_BLUESKY = "acmeoutdoor.bsky.social"
CAMPAIGN = "Autumn trail collection"
LANDING = "https://acme-outdoor.example.com/autumn-trail"
DEMO_CLICKS = 17
DEMO_EMAILS = (
    (
        "Maya Okafor <maya@northwind-trails.example.com>",
        "Gear list for the Cascades trip",
        "Hi Avery,\n\nCould you send the gear list we talked about? We leave on the 14th.\n\n"
        "Thanks,\nMaya\n\n--\nMaya Okafor\nTrail photographer\n+1 303 555 0142\n"
        "https://maya.okafor.example.com\nInstagram: @mayaontrail\n",
    ),
    (
        "Jonas Lindqvist <jonas@fjordline.example.com>",
        "Nordic distribution",
        "Hello,\n\nFjordline would like to carry the Ridge tents in Norway and Sweden next "
        "season. Who should I talk to about terms?\n\nBest regards\nJonas Lindqvist\n"
        "Head of buying, Fjordline AS\nTel. +47 22 55 01 23\nhttps://fjordline.example.com\n"
        "Mastodon: @jonas@mastodon.social\n",
    ),
)


def _seed_social(db: Database, principal: Principal) -> None:
    """Connect the brand, then let the product do its work once, inline, as the worker would
    a moment later: publish the campaign's posts, count clicks, read the mentions (which the
    listening rules turn into Tickets and Leads), take in two emails."""
    from socialcrm.core.db import utcnow
    from socialcrm.listening import ingestion as listening
    from socialcrm.publishing import sending

    tenant_id = principal.tenant_id
    accounts = _connect_brand_accounts(db, principal)
    with db.session(tenant_id=tenant_id) as session:
        campaign_id = _seed_campaign(session, principal, accounts)
        _seed_rules(session, principal, campaign_id)
    for owner, target_id in sending.due_targets(db, utcnow()):
        sending.publish_target(db, owner, target_id, worker="demo")
    _seed_clicks(db, tenant_id)
    for account_id in accounts.values():
        listening.poll_account(db, tenant_id, account_id)
    with db.session(tenant_id=tenant_id) as session:
        _seed_emails(session, tenant_id)


def _connect_brand_accounts(db: Database, principal: Principal) -> dict[str, int]:
    """The brand's accounts, connected as a person would: X and Mastodon through OAuth (the
    sandbox's consent page, answered "allow"), Bluesky with an app password."""
    from socialcrm.connections.models import Ownership

    ids: dict[str, int] = {}
    for network, handle in BRAND_OAUTH:
        with db.session(tenant_id=principal.tenant_id) as session:
            start = connecting.start_oauth(
                session, principal, provider=network, ownership=Ownership.BRAND
            )
        parts = urlsplit(start.authorization_url)
        form = {k: v[0] for k, v in parse_qs(parts.query).items()}
        consent = httpx.post(
            f"{parts.scheme}://{parts.netloc}{parts.path}",
            data=form | {"account": handle, "decision": "allow"},
            timeout=10,
        )
        back = parse_qs(urlsplit(consent.headers["location"]).query)
        outcome = connecting.complete_oauth(
            db, provider=network, params={k: v[0] for k, v in back.items()}
        )
        assert isinstance(outcome, SocialAccount)
        ids[network] = outcome.id
    with db.session(tenant_id=principal.tenant_id) as session:
        account = connecting.connect_with_app_password(
            session,
            principal,
            provider="bluesky",
            ownership=Ownership.BRAND,
            identifier=BRAND_BLUESKY,
            app_password="app-password",  # noqa: S106 - the sandbox's published demo password
        )
        ids["bluesky"] = account.id
    return ids


def _seed_campaign(session: Any, principal: Principal, accounts: dict[str, int]) -> int:
    from socialcrm.crm.models import Campaign, CampaignStatus
    from socialcrm.publishing import compose
    from socialcrm.publishing import service as publishing

    now = datetime.now(UTC)
    campaign = crm.create(
        session,
        Campaign,
        {
            "name": CAMPAIGN,
            "status": CampaignStatus.ACTIVE,
            "tracking_tag": "autumn-trail",
            "starts_at": now - timedelta(days=10),
            "ends_at": now + timedelta(days=20),
        },
    )
    publishing.set_budget(session, principal, campaign.id, 2500, "USD")
    everywhere = [compose.TargetSpec(account_id) for account_id in accounts.values()]
    compose.compose(
        session,
        principal,
        compose.Composition(
            text=f"The autumn trail collection is here: light packs, warm layers. {LANDING}",
            targets=everywhere,
            action="now",
            campaign_id=campaign.id,
        ),
    )
    compose.compose(
        session,
        principal,
        compose.Composition(
            text="Show us your first hike of the season with #acmetrail: the best photo wins "
            f"a Ridge 2 tent. {LANDING}",
            targets=everywhere[:2],
            action="schedule",
            local_time=(now + timedelta(days=2)).replace(
                hour=9, minute=0, second=0, microsecond=0, tzinfo=None
            ),
            time_zone="America/Denver",
            campaign_id=campaign.id,
        ),
    )
    compose.compose(
        session,
        principal,
        compose.Composition(
            text="Winter care guide for down jackets (draft)", targets=everywhere[:1]
        ),
    )
    return int(campaign.id)


def _seed_rules(session: Any, principal: Principal, campaign_id: int) -> None:
    """Two listening rules: complaints become Tickets, buying signals become the campaign's
    Leads."""
    from socialcrm.listening import service as listening
    from socialcrm.listening.schemas import RuleIn

    rules = (
        RuleIn(
            name="Support: orders and faults",
            query='help OR arrived OR frayed OR "keeps going out" OR broken',
            support=True,
            actions=["ticket"],
        ),
        RuleIn(
            name="Buying signals",
            query="distributor OR stocking OR restocking OR bundle OR partnering",
            campaign_id=campaign_id,
            actions=["lead", "campaign"],
        ),
    )
    for rule in rules:
        listening.create_rule(session, principal, rule.values())


def _seed_clicks(db: Database, tenant_id: int) -> None:
    """People following the campaign post's link: counted by the real ``/r/{code}`` path."""
    from socialcrm.publishing import service as publishing
    from socialcrm.publishing.models import TrackedLink

    with db.session(tenant_id=tenant_id) as session:
        codes = list(session.scalars(select(TrackedLink.code).order_by(TrackedLink.id)))
    for index in range(DEMO_CLICKS if codes else 0):
        publishing.follow_link(db, codes[index % len(codes)])


def _seed_emails(session: Any, tenant_id: int) -> None:
    """Two customers' emails: their signatures propose phones, sites and handles."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    from socialcrm.signatures import intake

    for hours, (sender, subject, body) in enumerate(DEMO_EMAILS, start=3):
        message = EmailMessage()
        message["From"] = sender
        message["To"] = "Acme Outdoor <social@acme-outdoor.example.com>"
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC) - timedelta(hours=hours))
        message["Message-ID"] = make_msgid(domain="acme-outdoor.example.com")
        message.set_content(body)
        intake.ingest(session, tenant_id, bytes(message), source="import")


def _demo_api_key(db: Database, settings: Settings, tenant_id: int) -> str:
    """One demo key, kept (0600) in DATA_DIR so every start can print it."""
    path = settings.data_dir / "demo-api-key"
    if path.exists():
        return path.read_text().strip()
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, DEMO_TENANT)
        _, raw = create_api_key(session, tenant=tenant, role=Role.ADMIN, name="demo")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(raw + "\n")
    return raw
