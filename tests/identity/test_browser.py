"""The review queue in real headless Chromium: log in, see a look-alike, merge one, reject one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.identity import resolve
from socialcrm.identity.models import IdentityProfile, IdentityReview
from socialcrm.identity.schemas import ResolveIn
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Database, int]]:
    url = f"sqlite:///{tmp_path}/reviews.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    try:
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Review Co")
            create_user(
                session,
                tenant=tenant,
                email="steward@review.test",
                password="correct horse",
                role=Role.AGENT,
                name="Sam Steward",
            )
            tenant_id = tenant.id
        with db.session(tenant_id=tenant_id) as session:
            crm.create(
                session,
                Contact,
                {"name": "John Doe", "handles": [{"network": "x", "handle": "john_doe"}]},
            )
            crm.create(
                session,
                Contact,
                {"name": "Mallory Smith", "handles": [{"network": "x", "handle": "mallory"}]},
            )
        with db.session(tenant_id=tenant_id) as session:
            for handle, uid in (("j0hn_doe", "71"), ("rnallory", None), ("ma1lory", None)):
                resolve.resolve(
                    session,
                    tenant_id,
                    ResolveIn(handle=handle, channel="x", user_id=uid),
                    actor="test",
                )
        with live_app() as base:
            yield base, db, tenant_id
    finally:
        set_database(None)
        db.engine.dispose()


def test_merge_and_reject_from_the_review_queue(
    chromium: Path,
    site: tuple[str, Database, int],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db, tenant_id = site
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/identity/reviews")
        page.get_by_label("Email").fill("steward@review.test")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Identity reviews")).to_be_visible()

        spoof = page.locator("tr", has_text="@j0hn_doe")
        expect(spoof).to_contain_text("confusable_with:john_doe")
        expect(spoof).to_contain_text("John Doe")
        # The look-alike character is marked, with its code point.
        expect(spoof.locator("mark.confusable")).to_have_text("0")
        expect(spoof).to_contain_text("U+0030 digit zero")
        page.screenshot(path=str(tmp_path / "reviews.png"), full_page=True)
        if os.environ.get("SOCIALCRM_SCREENSHOT_REVIEWS"):
            page.screenshot(path=os.environ["SOCIALCRM_SCREENSHOT_REVIEWS"], full_page=True)

        spoof.get_by_role("link", name="Merge @j0hn_doe").click()
        expect(page.get_by_role("heading", name="Merge @j0hn_doe into a contact")).to_be_visible()
        expect(page.get_by_role("note")).to_contain_text("only looks like @john_doe")
        expect(page.locator("input[name=contact_id]:checked")).to_have_count(0)
        # Nothing chosen: the merge is refused, nothing moves.
        page.get_by_role("button", name="Merge into the chosen contact").click()
        expect(page.get_by_role("alert")).to_contain_text("choose the contact")
        # Searched as you type; the person decides it is John Doe after all.
        page.get_by_label("Search contacts").press_sequentially("doe")
        page.get_by_role("radio", name="John Doe").check()
        page.get_by_role("button", name="Merge into the chosen contact").click()
        expect(page.get_by_role("status").filter(has_text="Merged.")).to_be_visible()
        expect(page.locator("tr", has_text="@j0hn_doe")).to_have_count(0)

        page.locator("tr", has_text="@rnallory").get_by_role(
            "button", name="Reject @rnallory"
        ).click()
        expect(page.get_by_role("status").filter(has_text="Rejected.")).to_be_visible()
        expect(page.locator("tr", has_text="@rnallory")).to_have_count(0)
        expect(page.locator("tr", has_text="@ma1lory")).to_have_count(1)

        page.get_by_role("link", name="merged").click()
        expect(page.locator("tr", has_text="@j0hn_doe")).to_have_attribute("data-status", "merged")
        browser.close()

    with db.session(tenant_id=tenant_id) as session:
        profile = session.scalars(
            select(IdentityProfile).where(IdentityProfile.user_id == "71")
        ).one()
        john = session.scalars(select(Contact).where(Contact.name == "John Doe")).one()
        assert profile.contact_id == john.id and profile.handle == "j0hn_doe"
        statuses = dict(
            session.execute(select(IdentityReview.handle, IdentityReview.status)).tuples().all()
        )
        assert statuses == {"j0hn_doe": "merged", "rnallory": "rejected", "ma1lory": "pending"}
