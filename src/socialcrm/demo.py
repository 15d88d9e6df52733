"""Demo data: a tenant, its people, contacts drawn from the sandbox world, app credentials."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from socialcrm.connections import service as connections
from socialcrm.core.db import Database
from socialcrm.core.settings import Settings
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account, Contact, Tier
from socialcrm.tenancy.models import Role, User
from socialcrm.tenancy.service import Principal, create_api_key, create_user, get_or_create_tenant

DEMO_TENANT = "Acme Outdoor"
DEMO_ADMIN = "admin@acme.test"
DEMO_AGENT = "agent@acme.test"
DEMO_PASSWORD = "socialcrm-demo"  # noqa: S105 - printed for the local demo on purpose
DEMO_WORLD = Path(__file__).parent / "sandbox" / "worlds" / "demo.json"
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
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, DEMO_TENANT)
        tenant_id = tenant.id
        if session.scalars(select(User).where(User.email == DEMO_ADMIN)).first() is None:
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
    return DemoLogin(DEMO_ADMIN, DEMO_PASSWORD, _demo_api_key(db, settings, tenant_id))


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
