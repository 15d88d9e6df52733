"""The demo teaches the product: what ``make run`` loads and prints.

The data: the brand's accounts connected on several networks (with pictures the sandbox
serves), mentions of the last days, published and scheduled posts of a campaign with clicks and
Leads, Tickets from complaints, emails whose signatures propose details, company websites that
read as links, and an identity graph in which the brand's customers are who they say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Account, Contact, Lead, Ticket
from socialcrm.demo import (
    BANNER_WIDTH,
    DEMO_CLICKS,
    DEMO_TENANT,
    DEMO_WORLD,
    DemoLogin,
    demo_banner,
    demo_world,
    load_demo,
)
from socialcrm.listening.models import SocialMention
from socialcrm.publishing.links import find_urls
from socialcrm.publishing.models import PostTarget, TrackedLink
from socialcrm.signatures.models import ReceivedEmail
from socialcrm.tenancy.service import get_or_create_tenant
from socialcrm_sandbox.testing import start_sandbox
from tests.conftest import committed_database
from tests.test_cli import free_port

KEY = "scrm_" + "x" * 43  # as long as a real key (secrets.token_urlsafe(32))


def test_the_banner_fits_an_80_column_terminal() -> None:
    login = DemoLogin("admin@acme.test", "socialcrm-demo", KEY)
    lines = demo_banner("http://127.0.0.1:8000", login, "http://127.0.0.1:8001")
    assert all(len(line) <= BANNER_WIDTH for line in lines), [
        line for line in lines if len(line) > BANNER_WIDTH
    ]
    text = "\n".join(lines)
    # Whole, each on its line, so they can be copied: the login, the key, the command.
    assert "admin@acme.test / socialcrm-demo" in text
    assert f"API key   {KEY}" in lines
    assert "http://127.0.0.1:8000/api/contacts" in text
    assert len(lines) <= 14  # short: it is read before anything else


def test_the_demo_worlds_posts_are_recent_and_keep_their_order() -> None:
    now = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
    world = demo_world(now, "http://127.0.0.1:9")
    posts = [
        post
        for person in world["people"]
        for account in person.get("accounts", [])
        for post in account.get("posts", [])
    ]
    times = [datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")) for p in posts]
    assert max(times) <= now - timedelta(minutes=10)
    assert min(times) >= now - timedelta(days=8)
    original = json.loads(DEMO_WORLD.read_text())
    before = [
        post["created_at"]
        for person in original["people"]
        for account in person.get("accounts", [])
        for post in account.get("posts", [])
    ]
    order = sorted(range(len(posts)), key=lambda i: (times[i], i))
    assert order == sorted(range(len(posts)), key=lambda i: (before[i], i))  # the story's order


@dataclass(frozen=True)
class Demo:
    db: Database
    tenant_id: int
    sandbox_url: str


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    port = free_port()
    world = demo_world(datetime.now(UTC), f"http://127.0.0.1:{port}")
    sandbox = start_sandbox(world, port=port)
    monkeypatch.setattr(get_settings(), "sandbox_url", sandbox.url)  # as `serve --demo` does
    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    try:
        with committed_database(tmp_path, "demo") as (db, _url):
            load_demo(db, settings, sandbox.url)
            load_demo(db, settings, sandbox.url)  # every start loads it: nothing twice
            with db.session(system=True) as session:
                tenant_id = get_or_create_tenant(session, DEMO_TENANT).id
            yield Demo(db, tenant_id, sandbox.url)
    finally:
        sandbox.stop()


@pytest.mark.timeout(180)
def test_the_demo_has_what_a_new_user_should_see(demo: Demo) -> None:
    with demo.db.session(tenant_id=demo.tenant_id) as session:
        brand = list(session.scalars(select(SocialAccount)))
        assert {a.provider for a in brand} >= {"x", "mastodon", "bluesky"}
        assert all(a.ownership == "brand" and a.status == "active" for a in brand)
        assert len(brand) == 3  # loaded twice, connected once
        pictures = {a.avatar_url for a in brand}

        mentions = list(session.scalars(select(SocialMention)))
        assert len(mentions) >= 8
        now = datetime.now(UTC)
        posted = [m.posted_at.replace(tzinfo=m.posted_at.tzinfo or UTC) for m in mentions]
        assert max(posted) > now - timedelta(hours=24), "the newest mentions are today's"
        assert min(posted) > now - timedelta(days=8), "every mention is of the last week"

        targets = list(session.scalars(select(PostTarget)))
        assert {t.status for t in targets} >= {"published", "scheduled", "draft"}
        published = [t for t in targets if t.status == "published"]
        assert len(published) == 3 and all(t.url and t.campaign_id for t in published)
        clicks = session.scalar(select(func.sum(TrackedLink.clicks)))
        assert clicks == DEMO_CLICKS

        leads = list(session.scalars(select(Lead)))
        assert leads and all(lead.campaign_id is not None for lead in leads)
        tickets = list(session.scalars(select(Ticket)))
        assert len(tickets) >= 2
        # The identity graph is coherent: Daniel Kim's complaint is Daniel Kim's Ticket.
        daniel = session.scalars(select(Contact).where(Contact.name == "Daniel Kim")).one()
        assert daniel.id in {t.contact_id for t in tickets}

        emails = list(session.scalars(select(ReceivedEmail)))
        assert len(emails) == 2 and all(e.participants for e in emails)

        websites = [a.website for a in session.scalars(select(Account)) if a.website]
        assert len(websites) >= 4
        for site in websites:  # a link a network shows as one (and our post tracking rewrites)
            assert [url for *_, url in find_urls(f"see {site} today")] == [site], site
    for picture in pictures:
        assert picture.startswith(demo.sandbox_url + "/_sandbox/avatars/"), picture
        answer = httpx.get(picture)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
