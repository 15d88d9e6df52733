"""Who may call what: every route of the app, API and UI, against every kind of caller.

The two tables below name, for each route, the roles allowed to call it. The test walks the
app's own routes (``app.openapi()`` for the API, ``app.routes`` for the pages), so a new route
that is missing here fails with a message saying where to add it. Each API route is called by
an admin, a marketer and an agent, each with a key of a person and with a key without a user
(what `socialcrm api-key create` makes); each page by a logged-in admin, marketer and agent.
Allowed: never 401 or 403 (404 and 4xx for the test's made-up input are fine). Refused: 403,
in the error envelope for the API. Without a key or login: 401 (API) or the login page. Refused
calls run first, before any allowed call can delete or change the records they name. PUBLIC
routes (no key, no login) are only classified here; their own tests cover them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.models import Tenant, User
from socialcrm.tenancy.service import create_api_key, create_user
from tests.conftest import csrf_of, make_tenant, ui_login
from tests.connections.flow import connect, register_app

A, M, G = Role.ADMIN, Role.MARKETING, Role.AGENT


@dataclass(frozen=True)
class Who:
    """The roles a route lets in. ``person``: a marketer's or agent's key must act for a user
    (what they create is theirs; a key without a user owns nothing). ``hidden``: the route
    names a record the refused do not see at all, so they get 404, not 403."""

    roles: frozenset[Role]
    person: bool = False
    hidden: bool = False

    def allows(self, role: Role, with_user: bool) -> bool:
        return role in self.roles and (with_user or role == A or not self.person)


PUBLIC = None  # no login or key at all: health, inbound webhooks, OAuth callbacks, redirects
EVERYONE = Who(frozenset({A, M, G}))
WRITERS = Who(frozenset({A, M}))  # marketing's work: campaigns, publishing, listening rules
DECIDERS = Who(frozenset({A, G}))  # identity reviews: the support desk decides who is who
ADMINS = Who(frozenset({A}))
PEOPLE = Who(frozenset({A, M, G}), person=True)
OWNERS = Who(frozenset({A}), hidden=True)  # the fixture's records belong to nobody: admins'


# fmt: off
API: dict[str, Who | None] = {
    "GET /health": PUBLIC,
    # --- identity: resolve, review queue, policy
    "POST /api/v1/resolve": EVERYONE,
    "POST /api/v1/resolve:batch": EVERYONE,
    "GET /api/identity/reviews": EVERYONE,
    "GET /api/identity/reviews/{review_id}": EVERYONE,
    "POST /api/identity/reviews/{review_id}/merge": DECIDERS,
    "POST /api/identity/reviews/{review_id}/reject": DECIDERS,
    "GET /api/identity/settings": EVERYONE,
    "PUT /api/identity/settings": ADMINS,
    # --- CRM records (campaigns: everyone reads, marketing writes)
    "POST /api/contacts": EVERYONE,
    "GET /api/contacts": EVERYONE,
    "GET /api/contacts/{record_id}": EVERYONE,
    "PATCH /api/contacts/{record_id}": EVERYONE,
    "DELETE /api/contacts/{record_id}": EVERYONE,
    "POST /api/accounts": EVERYONE,
    "GET /api/accounts": EVERYONE,
    "GET /api/accounts/{record_id}": EVERYONE,
    "PATCH /api/accounts/{record_id}": EVERYONE,
    "DELETE /api/accounts/{record_id}": EVERYONE,
    "POST /api/leads": EVERYONE,
    "GET /api/leads": EVERYONE,
    "GET /api/leads/{record_id}": EVERYONE,
    "PATCH /api/leads/{record_id}": EVERYONE,
    "DELETE /api/leads/{record_id}": EVERYONE,
    "POST /api/tickets": EVERYONE,
    "GET /api/tickets": EVERYONE,
    "GET /api/tickets/{record_id}": EVERYONE,
    "PATCH /api/tickets/{record_id}": EVERYONE,
    "DELETE /api/tickets/{record_id}": EVERYONE,
    "POST /api/activities": EVERYONE,
    "GET /api/activities": EVERYONE,
    "GET /api/activities/{record_id}": EVERYONE,
    "PATCH /api/activities/{record_id}": EVERYONE,
    "DELETE /api/activities/{record_id}": EVERYONE,
    "POST /api/campaigns": WRITERS,
    "GET /api/campaigns": EVERYONE,
    "GET /api/campaigns/{record_id}": EVERYONE,
    "PATCH /api/campaigns/{record_id}": WRITERS,
    "DELETE /api/campaigns/{record_id}": WRITERS,
    "GET /api/support/settings": EVERYONE,
    "PUT /api/support/settings": ADMINS,
    # --- connected accounts (the fixture's is a brand account: an admin's alone)
    "GET /api/providers": EVERYONE,
    "GET /api/connections": EVERYONE,
    "POST /api/connections": PEOPLE,
    "GET /api/connections/choices/{key}": EVERYONE,
    "POST /api/connections/choices/{key}": EVERYONE,
    "GET /api/connections/{connection_id}": EVERYONE,
    "DELETE /api/connections/{connection_id}": ADMINS,
    "PUT /api/provider-apps/{provider}": ADMINS,
    "GET /api/provider-apps": EVERYONE,
    # --- discovery jobs and account profile suggestions
    "POST /api/jobs/socials": EVERYONE,
    "GET /api/jobs/usage": EVERYONE,
    "GET /api/jobs/{job_id}": EVERYONE,
    "POST /api/jobs/{job_id}/cancel": EVERYONE,
    "GET /api/jobs/{job_id}/events": EVERYONE,
    "GET /api/jobs/{job_id}/results": EVERYONE,
    "GET /api/accounts/{account_id}/profile-suggestions": EVERYONE,
    "POST /api/accounts/{account_id}/profile-suggestions/{suggestion_id}/accept": EVERYONE,
    "POST /api/accounts/{account_id}/profile-suggestions/{suggestion_id}/reject": EVERYONE,
    "POST /api/accounts/{account_id}/discover": EVERYONE,
    # --- enrichment
    "GET /api/contacts/{contact_id}/social": EVERYONE,
    "POST /api/contacts/{contact_id}/social/find": EVERYONE,
    "POST /api/contacts/{contact_id}/social/links": EVERYONE,
    "POST /api/social-links/{link_id}/confirm": EVERYONE,
    "POST /api/social-links/{link_id}/reject": EVERYONE,
    "POST /api/social-links/{link_id}/use-as-photo": EVERYONE,
    "GET /api/screen-pop": EVERYONE,
    "GET /api/enrichment/report": EVERYONE,
    "GET /api/enrichment/settings": EVERYONE,
    "PATCH /api/enrichment/settings": ADMINS,
    "POST /api/enrichment/runs": WRITERS,
    "GET /api/enrichment/runs": EVERYONE,
    "GET /api/enrichment/runs/{run_id}": EVERYONE,
    "GET /api/enrichment/runs/{run_id}/events": EVERYONE,
    # --- listening
    "GET /api/listening/settings": EVERYONE,
    "PUT /api/listening/settings": ADMINS,
    "GET /api/listening/rules": EVERYONE,
    "POST /api/listening/rules": WRITERS,
    "POST /api/listening/rules/preview": EVERYONE,  # reads; saves nothing
    "GET /api/listening/rules/{rule_id}": EVERYONE,
    "PATCH /api/listening/rules/{rule_id}": WRITERS,
    "DELETE /api/listening/rules/{rule_id}": WRITERS,
    "GET /api/listening/mentions": EVERYONE,
    "GET /api/listening/mentions/{mention_id}": EVERYONE,
    "POST /api/listening/mentions/{mention_id}/ticket": EVERYONE,
    "POST /api/listening/mentions/{mention_id}/lead": EVERYONE,
    "GET /api/listening/routing-rules": EVERYONE,
    "POST /api/listening/routing-rules": ADMINS,
    "DELETE /api/listening/routing-rules/{rule_id}": ADMINS,
    "GET /api/listening/webhook-endpoints": ADMINS,
    "POST /api/listening/webhook-endpoints": ADMINS,
    "DELETE /api/listening/webhook-endpoints/{endpoint_id}": ADMINS,
    "GET /api/listening/webhook-subscriptions": ADMINS,
    "POST /api/listening/webhook-subscriptions": ADMINS,
    "DELETE /api/listening/webhook-subscriptions/{sub_id}": ADMINS,
    "GET /api/notifications/stream": EVERYONE,
    "GET /hooks/listening/{token}": PUBLIC,
    "POST /hooks/listening/{token}": PUBLIC,
    # --- publishing and campaign results
    "POST /api/publishing/posts": WRITERS,
    "GET /api/publishing/posts": EVERYONE,
    "GET /api/publishing/posts/{post_id}": EVERYONE,
    "PUT /api/publishing/posts/{post_id}": WRITERS,
    "POST /api/publishing/posts/{post_id}/cancel": WRITERS,
    "POST /api/publishing/targets/{target_id}/cancel": WRITERS,
    "POST /api/publishing/targets/{target_id}/retry": WRITERS,
    "POST /api/publishing/posts/{post_id}/review": ADMINS,
    "PUT /api/publishing/settings": ADMINS,
    "POST /api/publishing/count": EVERYONE,
    "PUT /api/campaigns/{campaign_id}/budget": WRITERS,
    "GET /api/campaigns/{campaign_id}/attribution": EVERYONE,
    "GET /api/campaigns/{campaign_id}/attribution.csv": EVERYONE,
    "GET /r/{code}": PUBLIC,
    # --- engage: replies and DMs
    "POST /api/engage/messages": EVERYONE,
    "GET /api/engage/messages": EVERYONE,
    "GET /api/engage/messages/{message_id}": EVERYONE,
    "GET /api/engage/accounts": EVERYONE,
    "GET /api/engage/threads": EVERYONE,
    "GET /api/engage/tickets/{ticket_id}/first-response": EVERYONE,
    # --- emails and signatures
    "POST /api/emails": EVERYONE,
    "GET /api/emails": EVERYONE,
    "GET /api/emails/{email_id}": EVERYONE,
    "GET /api/emails/{email_id}/enrichment": EVERYONE,
    "POST /api/emails/{email_id}/participants/connect": EVERYONE,
    "GET /api/contacts/{contact_id}/enrichment": EVERYONE,
    "POST /api/contacts/{contact_id}/enrichment/apply": EVERYONE,
    "GET /api/tickets/{ticket_id}/enrichment": EVERYONE,
    "GET /api/email-settings": EVERYONE,
    "PUT /api/email-settings": ADMINS,
    "GET /api/imap-accounts": EVERYONE,
    "POST /api/imap-accounts": PEOPLE,
    "DELETE /api/imap-accounts/{account_id}": OWNERS,
    "POST /api/imap-accounts/{account_id}/sync": OWNERS,
    # --- the operator's controls and the audit log
    "GET /api/audit": ADMINS,
    "GET /api/admin/tenant-policy": ADMINS,
    "PUT /api/admin/tenant-policy": ADMINS,
}

UI: dict[str, Who | None] = {
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": PUBLIC,
    "GET /oauth/callback/{provider}": PUBLIC,
    "GET /": PUBLIC,  # a redirect to /contacts
    # --- CRM records
    "GET /contacts": EVERYONE,
    "GET /contacts/new": EVERYONE,
    "POST /contacts": EVERYONE,
    "GET /contacts/{contact_id}": EVERYONE,
    "GET /contacts/{rid}/edit": EVERYONE,
    "POST /contacts/{rid}/edit": EVERYONE,
    "GET /contacts/{rid}/delete": EVERYONE,
    "POST /contacts/{rid}/delete": EVERYONE,
    "POST /contacts/{contact_id}/phone-types": EVERYONE,
    "GET /accounts": EVERYONE,
    "GET /accounts/new": EVERYONE,
    "POST /accounts": EVERYONE,
    "GET /accounts/{account_id}": EVERYONE,
    "GET /accounts/{rid}/edit": EVERYONE,
    "POST /accounts/{rid}/edit": EVERYONE,
    "GET /accounts/{rid}/delete": EVERYONE,
    "POST /accounts/{rid}/delete": EVERYONE,
    "GET /leads": EVERYONE,
    "GET /leads/new": EVERYONE,
    "POST /leads": EVERYONE,
    "GET /leads/{lead_id}": EVERYONE,
    "GET /leads/{rid}/edit": EVERYONE,
    "POST /leads/{rid}/edit": EVERYONE,
    "GET /leads/{rid}/delete": EVERYONE,
    "POST /leads/{rid}/delete": EVERYONE,
    "POST /leads/{lead_id}/convert": EVERYONE,
    "GET /tickets": EVERYONE,
    "GET /tickets/new": EVERYONE,
    "POST /tickets": EVERYONE,
    "GET /tickets/{ticket_id}": EVERYONE,
    "GET /tickets/{rid}/edit": EVERYONE,
    "POST /tickets/{rid}/edit": EVERYONE,
    "GET /tickets/{rid}/delete": EVERYONE,
    "POST /tickets/{rid}/delete": EVERYONE,
    "GET /activities/new": EVERYONE,
    "POST /activities": EVERYONE,
    # --- campaigns: everyone reads, marketing writes
    "GET /campaigns": EVERYONE,
    "GET /campaigns/{campaign_id}": EVERYONE,
    "GET /campaigns/{campaign_id}/attribution.csv": EVERYONE,
    "GET /campaigns/new": WRITERS,
    "POST /campaigns": WRITERS,
    "GET /campaigns/{rid}/edit": WRITERS,
    "POST /campaigns/{rid}/edit": WRITERS,
    "GET /campaigns/{rid}/delete": WRITERS,
    "POST /campaigns/{rid}/delete": WRITERS,
    "POST /campaigns/{campaign_id}/budget": WRITERS,
    # --- discovery suggestions, enrichment
    "POST /accounts/{account_id}/profile-suggestions/{suggestion_id}/{action}": EVERYONE,
    "GET /contacts/{contact_id}/social": EVERYONE,
    "POST /contacts/{contact_id}/social/find": EVERYONE,
    "POST /contacts/{contact_id}/social/links": EVERYONE,
    "POST /social-links/{link_id}/confirm": EVERYONE,
    "POST /social-links/{link_id}/{action}": EVERYONE,
    "GET /enrichment": EVERYONE,
    "GET /enrichment/runs": EVERYONE,
    "GET /enrichment/events": EVERYONE,
    "POST /enrichment/runs": WRITERS,
    # --- identity
    "GET /identity/reviews": EVERYONE,
    "GET /identity/reviews/{review_id}/merge": DECIDERS,
    "POST /identity/reviews/{review_id}/merge": DECIDERS,
    "POST /identity/reviews/{review_id}/reject": DECIDERS,
    "GET /identity/contacts/search": DECIDERS,  # the merge page's contact picker
    "GET /contacts/{contact_id}/merge": EVERYONE,
    "POST /contacts/{contact_id}/merge": EVERYONE,
    # --- listening
    "GET /listening/rules": EVERYONE,
    "POST /listening/rules": WRITERS,
    "POST /listening/rules/preview": EVERYONE,  # reads; saves nothing
    "POST /listening/rules/{rule_id}": WRITERS,
    "POST /listening/rules/{rule_id}/toggle": WRITERS,
    "POST /listening/rules/{rule_id}/delete": WRITERS,
    "GET /listening/inbox": EVERYONE,
    "GET /listening/inbox/rows": EVERYONE,
    "GET /listening/inbox/chart": EVERYONE,
    "POST /listening/mentions/{mention_id}/ticket": EVERYONE,
    "POST /listening/mentions/{mention_id}/lead": EVERYONE,
    # --- engage and publishing
    "POST /contacts/{contact_id}/engage": EVERYONE,
    "POST /tickets/{ticket_id}/reply": EVERYONE,
    "GET /publishing": EVERYONE,
    "GET /publishing/events": EVERYONE,
    "GET /discovery/jobs": EVERYONE,
    "POST /discovery/jobs": EVERYONE,
    "GET /discovery/jobs/events": EVERYONE,
    "GET /discovery/jobs/{job_id}": EVERYONE,
    "POST /discovery/jobs/{job_id}/cancel": EVERYONE,
    "GET /publishing/calendar": EVERYONE,
    "POST /publishing": WRITERS,
    "POST /publishing/count": EVERYONE,
    "POST /publishing/{post_id}/cancel": WRITERS,
    "POST /publishing/targets/{target_id}/cancel": WRITERS,
    "POST /publishing/targets/{target_id}/retry": WRITERS,
    "POST /publishing/{post_id}/review": ADMINS,
    # --- emails and signatures
    "GET /emails": EVERYONE,
    "GET /emails/events": EVERYONE,
    "GET /emails/settings": ADMINS,
    "GET /emails/{email_id}": EVERYONE,
    "POST /emails/{email_id}/enrichment": EVERYONE,
    "GET /contacts/{contact_id}/enrichment": EVERYONE,
    "POST /contacts/{contact_id}/enrichment": EVERYONE,
    "GET /tickets/{ticket_id}/enrichment": EVERYONE,
    # --- connected accounts (the fixture's is a brand account: an admin's alone)
    "GET /connections": EVERYONE,
    "POST /connections": EVERYONE,
    "POST /connections/{account_id}/disconnect": ADMINS,
    "GET /connections/choose/{key}": EVERYONE,
    "POST /connections/choose/{key}": EVERYONE,
    # --- notifications (each person their own)
    "GET /notifications": EVERYONE,
    "POST /notifications/read-all": EVERYONE,
    "POST /notifications/{note_id}/open": EVERYONE,
    "POST /notifications/{note_id}/{action}": EVERYONE,
    # --- the Admin area
    "GET /admin": ADMINS,
    "GET /admin/users": ADMINS,
    "POST /admin/users": ADMINS,
    "POST /admin/users/{user_id}/role": ADMINS,
    "POST /admin/users/{user_id}/deactivate": ADMINS,
    "POST /admin/users/{user_id}/activate": ADMINS,
    "GET /admin/api-keys": ADMINS,
    "POST /admin/api-keys": ADMINS,
    "POST /admin/api-keys/{key_id}/revoke": ADMINS,
    "GET /admin/enrichment": ADMINS,
    "POST /admin/enrichment": ADMINS,
    "GET /admin/identity": ADMINS,
    "POST /admin/identity": ADMINS,
    "GET /admin/listening": ADMINS,
    "POST /admin/listening": ADMINS,
    "GET /admin/publishing": ADMINS,
    "POST /admin/publishing": ADMINS,
    "GET /admin/support": ADMINS,
    "POST /admin/support": ADMINS,
    "GET /admin/email": ADMINS,
    "POST /admin/email": ADMINS,
    "POST /admin/email/mailboxes": ADMINS,
    "POST /admin/email/mailboxes/{account_id}/sync": ADMINS,
    "GET /admin/email/mailboxes/events": ADMINS,
    "POST /admin/email/mailboxes/{account_id}/delete": ADMINS,
    "GET /admin/discovery": ADMINS,
    "POST /admin/discovery": ADMINS,
    "GET /admin/provider-apps": ADMINS,
    "POST /admin/provider-apps": ADMINS,
    "GET /admin/audit": ADMINS,
    "GET /admin/audit.csv": ADMINS,
}
# fmt: on

# Streams that never end on their own: only their refusals are called here (their answers
# are tested in tests/listening/test_live.py and the live pages' browser tests).
ENDLESS = {
    "GET /api/notifications/stream",
    # the pages' live sections (core/web/sse.py): they follow the page for as long as it is open
    "GET /enrichment/events",
    "GET /publishing/events",
    "GET /discovery/jobs/events",
    "GET /emails/events",
    "GET /admin/email/mailboxes/events",
}
# Not routes of ours: mounted static files and the API docs' assets.
MOUNTS = ("/static", "/docs/assets")
MISSING = 2_000_000_000  # an id no fixture has


# --- the app's routes -------------------------------------------------------------------------


def api_routes(app: FastAPI) -> list[str]:
    spec = app.openapi()
    return [f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops]


def _walk(routes: list[Any]) -> Iterator[tuple[str, set[str], bool]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI includes them lazily)
            for ctx in contexts():
                yield ctx.path, set(ctx.methods or ()), bool(ctx.include_in_schema)
        elif hasattr(route, "path") and not route.path.startswith(MOUNTS):
            methods = set(getattr(route, "methods", None) or ())
            yield route.path, methods, bool(getattr(route, "include_in_schema", True))


def ui_routes(app: FastAPI) -> list[str]:
    found = []
    for path, methods, in_schema in _walk(app.routes):
        if not in_schema:
            found += [f"{m} {path}" for m in sorted(methods - {"HEAD"})]
    return found


def test_every_route_is_in_the_table() -> None:
    from socialcrm.app import create_app

    app = create_app()
    api, ui = api_routes(app), ui_routes(app)
    missing = [r for r in api if r not in API] + [r for r in ui if r not in UI]
    assert not missing, (
        "routes nobody has classified: add each to API (OpenAPI routes) or UI (pages) in "
        f"tests/web/test_roles.py with the roles that may call it: {missing}"
    )
    stale = [r for r in API if r not in api] + [r for r in UI if r not in ui]
    assert not stale, f"tests/web/test_roles.py lists routes the app no longer has: {stale}"


# --- callers and records ------------------------------------------------------------------------

KINDS = [(A, True), (A, False), (M, True), (M, False), (G, True), (G, False)]


@dataclass
class World:
    keys: dict[tuple[Role, bool], str]  # (role, with a user) -> API key
    users: dict[Role, str]  # role -> the email of a person who logs in
    ids: dict[str, Any]  # the path segment before a parameter -> a record's id


PASSWORD = "correct horse battery"


def _person(session: Session, tenant: Tenant, role: Role, n: int) -> User:
    email = f"{role.value}{n}@roles.test"
    return create_user(session, tenant=tenant, email=email, password=PASSWORD, role=role)


def _created(api: TestClient, path: str, body: dict[str, Any]) -> int:
    answer = api.post(path, json=body)
    assert answer.status_code == 201, (path, answer.text)
    return int(answer.json()["id"])


@pytest.fixture
def world(app_client: TestClient, database: Database, sandbox: object) -> World:
    """Six keys and three people of one tenant, and a record of each kind a path names."""
    from socialcrm.signatures import mailboxes

    keys: dict[tuple[Role, bool], str] = {}
    users: dict[Role, str] = {}
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Roles")
        for role, with_user in KINDS:
            key, raw = create_api_key(session, tenant=tenant, role=role)
            if with_user:
                person = _person(session, tenant, role, key.id)
                key.user_id, users[role] = person.id, person.email
            keys[(role, with_user)] = raw
        # What the Admin area may deactivate or revoke without locking the test out.
        ids: dict[str, Any] = {
            "users": _person(session, tenant, G, 0).id,
            "api-keys": create_api_key(session, tenant=tenant, role=G)[0].id,
        }
        tenant_id = tenant.id
    with database.session(tenant_id=tenant_id) as session:
        values = {"host": "imap.acme.test", "port": 993, "username": "sales", "password": "pw"}
        mailbox = mailboxes.create_imap_account(session, user_id=None, values=values).id
    api = app_client
    api.headers["Authorization"] = f"Bearer {keys[(A, False)]}"
    contact = _created(api, "/api/contacts", {"name": "Ada", "emails": ["ada@example.com"]})
    campaign = _created(api, "/api/campaigns", {"name": "Spring"})
    register_app(api, "x")
    ids |= {
        "contacts": contact,
        "accounts": _created(api, "/api/accounts", {"name": "Acme"}),
        "leads": _created(api, "/api/leads", {"name": "Ada", "campaign_id": campaign}),
        "tickets": _created(api, "/api/tickets", {"contact_id": contact, "subject": "Help"}),
        "activities": _created(api, "/api/activities", {"contact_id": contact, "kind": "note"}),
        "campaigns": campaign,
        "rules": _created(api, "/api/listening/rules", {"name": "brand", "query": "acme"}),
        "connections": connect(api, "x", "ada", scope="brand")["id"],
        "routing-rules": _created(
            api, "/api/listening/routing-rules", {"kind": "round_robin", "user_ids": [ids["users"]]}
        ),
        "webhook-endpoints": _created(
            api, "/api/listening/webhook-endpoints", {"style": "x", "network": "x"}
        ),
        "emails": _email(api),
        "imap-accounts": mailbox,
        "mailboxes": mailbox,
        "provider-apps": "x",
        "callback": "x",
    }
    post = api.post(
        "/api/publishing/posts",
        json={"text": "Spring", "targets": [{"account_id": ids["connections"]}]},
    )
    assert post.status_code == 201, post.text
    ids |= {
        "posts": post.json()["id"],
        "publishing": post.json()["id"],
        "targets": post.json()["targets"][0]["id"],
    }
    del api.headers["Authorization"]
    return World(keys, users, ids)


def _email(api: TestClient) -> int:
    mail = (
        b"From: Ada <ada@example.com>\r\nTo: help@acme.test\r\nSubject: Hi\r\n"
        b"Message-ID: <roles@example.com>\r\n\r\nHello\r\n-- \r\nAda Lovelace\r\n"
    )
    answer = api.post("/api/emails", content=mail, headers={"Content-Type": "message/rfc822"})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


# --- calling a route ----------------------------------------------------------------------------

PARAM = re.compile(r"\{(\w+)\}")


def fill(path: str, ids: dict[str, Any]) -> str:
    """The path with each parameter replaced by the record its path segment names."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if PARAM.fullmatch(part):
            name = part[1:-1]
            if name == "action":
                parts[i] = "reject"
            else:
                before = parts[i - 1] if i else ""
                parts[i] = str(ids.get(before, MISSING))
    return "/".join(parts)


def minimal(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The smallest value ``schema`` accepts, as far as a plain walk can tell."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return minimal(spec["components"]["schemas"][name], spec)
    if "anyOf" in schema or "oneOf" in schema:
        options = [s for s in schema.get("anyOf", schema.get("oneOf")) if s.get("type") != "null"]
        return minimal(options[0], spec) if options else None
    if "allOf" in schema:
        return minimal(schema["allOf"][0], spec)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal(props[k], spec) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [minimal(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind == "integer" or kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "email":
        return "someone@example.com"
    if schema.get("format") in ("uri", "url"):
        return "https://acme.test/"
    return "x" * max(schema.get("minLength", 1), 1)


def call(client: TestClient, route: str, ids: dict[str, Any], spec: dict[str, Any]) -> Any:
    method, path = route.split(" ", 1)
    url = fill(path, ids)
    body = spec["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    if "application/json" in body:
        return client.request(method, url, json=minimal(body["application/json"]["schema"], spec))
    if "message/rfc822" in body:
        mail = b"From: a@acme.test\r\nTo: b@acme.test\r\nSubject: hi\r\n\r\nhello\r\n"
        return client.request(method, url, content=mail, headers={"Content-Type": "message/rfc822"})
    return client.request(method, url)


def _refused(route: str, answer: Any, *, api: bool, hidden: bool = False) -> str | None:
    status, code = (404, "not_found") if hidden else (403, "forbidden")
    if answer.status_code != status:
        return f"{route}: {answer.status_code} where {status} was due ({answer.text[:200]})"
    if api and answer.json().get("error", {}).get("code") != code:
        return f"{route}: {status} without the error envelope's {code!r} ({answer.text[:200]})"
    return None


def _anonymous(route: str, answer: Any, *, api: bool) -> str | None:
    if api and (answer.status_code, answer.json()["error"]["code"]) != (401, "unauthenticated"):
        return f"{route}: {answer.status_code} without a key ({answer.text[:200]})"
    if not api and not answer.headers.get("location", "").startswith("/login"):
        return f"{route}: {answer.status_code} without a login ({answer.text[:200]})"
    return None


def _allowed(route: str, answer: Any) -> str | None:
    if answer.status_code in (401, 403):
        return f"{route}: {answer.status_code} for a caller it lets in ({answer.text[:200]})"
    if answer.headers.get("location", "").startswith("/login"):
        return f"{route}: sent a logged-in person to the login page"
    return None


# --- the tests ----------------------------------------------------------------------------------


def test_api_routes_refuse_and_admit_by_role(app_client: TestClient, world: World) -> None:
    spec = app_client.app.openapi()  # type: ignore[attr-defined]
    routes = [r for r in api_routes(app_client.app) if API.get(r) is not None]  # type: ignore[arg-type]
    problems = [
        f"anyone: {problem}"
        for route in routes
        if (problem := _anonymous(route, call(app_client, route, world.ids, spec), api=True))
    ]
    for refusing in (True, False):  # every refusal first: nothing is deleted under it
        for route in routes:
            who = API[route]
            assert who is not None
            for role, with_user in KINDS:
                allowed = who.allows(role, with_user)
                if allowed == refusing or (allowed and route in ENDLESS):
                    continue
                app_client.headers["Authorization"] = f"Bearer {world.keys[(role, with_user)]}"
                answer = call(app_client, route, world.ids, spec)
                caller = f"{role.value} key {'of a person' if with_user else 'without a user'}"
                problem = (
                    _allowed(route, answer)
                    if allowed
                    else _refused(route, answer, api=True, hidden=who.hidden)
                )
                if problem:
                    problems.append(f"{caller}: {problem}")
    assert not problems, "\n".join(problems)


def _submit(client: TestClient, route: str, ids: dict[str, Any], csrf: str) -> Any:
    method, path = route.split(" ", 1)
    if method == "POST":
        return client.post(fill(path, ids), data={"csrf": csrf}, follow_redirects=False)
    return client.get(fill(path, ids), follow_redirects=False)


def test_pages_refuse_and_admit_by_role(app_client: TestClient, world: World) -> None:
    from socialcrm.app import create_app

    routes = [r for r in ui_routes(app_client.app) if UI.get(r) is not None]  # type: ignore[arg-type]
    csrf = csrf_of(app_client.get("/login").text)
    problems = [
        f"anyone: {problem}"
        for route in routes
        if (problem := _anonymous(route, _submit(app_client, route, world.ids, csrf), api=False))
    ]
    with ExitStack() as stack:
        people = {
            role: ui_login(
                stack.enter_context(TestClient(create_app(), raise_server_exceptions=False)),
                email,
                PASSWORD,
            )
            for role, email in world.users.items()
        }
        for refusing in (True, False):
            for route in routes:
                who = UI[route]
                assert who is not None
                for role, client in people.items():
                    allowed = who.allows(role, True)
                    if allowed == refusing or (allowed and route in ENDLESS):
                        continue
                    csrf = csrf_of(client.get("/contacts/new").text)
                    answer = _submit(client, route, world.ids, csrf)
                    problem = (
                        _allowed(route, answer)
                        if allowed
                        else _refused(route, answer, api=False, hidden=who.hidden)
                    )
                    if problem:
                        problems.append(f"{role.value}: {problem}")
    assert not problems, "\n".join(problems)
