"""The craft of the pages, in real headless Chromium over a live server (PostgreSQL when
configured): on a phone (390 px) nothing scrolls sideways and the navigation folds into a Menu
button the keyboard opens; checkboxes sit beside their labels; long words wrap; tables scroll
inside their cards; every action of a record's page is reached with Tab, in reading order,
with a visible focus ring; text has the contrast WCAG AA asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from socialcrm.core import notify
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account, Campaign, Contact, Lead, Ticket
from socialcrm.listening import pipeline
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.browser_site import PASSWORD, live_site, logged_in
from tests.conftest import CHROMIUM_ARGS
from tests.listening.factories import make_rule, post

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

LONG_WORD = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch" * 3
LONG_URL = "https://kestrel-labs.example.com/" + "a-very-long-path-segment/" * 8
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with live_site(tmp_path, "craft") as (base, db):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Craft Co")
            ada = create_user(
                session,
                tenant=tenant,
                email="ada@craft.test",
                password=PASSWORD,
                role=Role.ADMIN,
                name="Ada Lovelace-Byron, Countess of Lovelace",
            )
            tenant_id, ada_id = tenant.id, ada.id
        make_rule(db, tenant_id, name="Support", query="help", actions=["ticket", "lead"])
        ids: dict[str, int] = {}
        with db.session(tenant_id=tenant_id) as session:
            account = crm.create(session, Account, {"name": LONG_WORD, "website": LONG_URL})
            ids["account"] = account.id
            ids["contact"] = crm.create(
                session,
                Contact,
                {
                    "name": f"Grace {LONG_WORD}",
                    "emails": [f"{LONG_WORD.lower()}@example.com"],
                    "company": LONG_WORD,
                    "website": LONG_URL,
                    "account_id": account.id,
                    "handles": [{"network": "x", "handle": "grace", "user_id": "77"}],
                },
            ).id
            ids["lead"] = crm.create(session, Lead, {"name": LONG_WORD, "notes": LONG_URL}).id
            ids["ticket"] = crm.create(
                session, Ticket, {"subject": LONG_WORD, "description": LONG_URL}
            ).id
            ids["campaign"] = crm.create(session, Campaign, {"name": LONG_WORD}).id
            pipeline.ingest(
                session, tenant_id, [post(f"please help {LONG_WORD} {LONG_URL}", author="grace")]
            )
            notify.notify(session, user_id=ada_id, kind="info", message=f"{LONG_WORD} {LONG_URL}")
        yield {"base": base, "ids": ids}


def pages(ids: dict[str, int]) -> list[str]:
    return [
        "/contacts",
        f"/contacts/{ids['contact']}",
        f"/contacts/{ids['contact']}/edit",
        "/contacts/new",
        "/accounts",
        f"/accounts/{ids['account']}",
        "/leads",
        f"/leads/{ids['lead']}",
        "/tickets",
        f"/tickets/{ids['ticket']}",
        "/campaigns",
        f"/campaigns/{ids['campaign']}",
        "/listening/inbox",
        "/listening/rules",
        "/publishing",
        "/connections",
        "/enrichment",
        "/emails",
        "/identity/reviews",
        "/notifications",
        "/admin",
        "/admin/users",
        "/admin/identity",
        "/admin/audit",
    ]


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_on_a_phone_nothing_scrolls_sideways_and_the_menu_opens_from_the_keyboard(
    browser: Browser, site: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, site["base"], "ada@craft.test", viewport=PHONE)
    for path in pages(site["ids"]):
        answer = page.goto(f"{site['base']}{path}")
        assert answer is not None and answer.status == 200, path
        assert page.evaluate(SIDEWAYS) <= 0, (path, page.evaluate(SIDEWAYS))
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Contacts")).to_be_hidden()  # folded away
    page.goto(f"{site['base']}/contacts")
    menu = page.locator("details.navmenu > summary")
    expect(menu).to_be_visible()
    for _ in range(10):  # skip link, brand, then the Menu button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('details.navmenu > summary')"):
            break
    else:
        pytest.fail("Tab never reached the Menu button")
    page.keyboard.press("Enter")
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(links.first).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Contacts"
    assert page.evaluate(SIDEWAYS) <= 0
    page.keyboard.press("Enter")
    page.wait_for_url("**/contacts")
    # Wide again: the whole navigation shows, on one line, with no button.
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    expect(links.last).to_be_visible()
    expect(menu).to_be_hidden()


CHECKBOXES_BESIDE_LABELS = """() => {
  const far = [];
  for (const box of document.querySelectorAll('main input[type=checkbox]')) {
    if (!box.offsetParent || !box.labels || !box.labels.length) continue;
    const label = box.labels[0];
    const range = document.createRange();
    range.selectNodeContents(label);
    const words = [...range.getClientRects()].filter(r => r.width > 1);
    const b = box.getBoundingClientRect();
    const text = words.find(r => r.left >= b.right - 1) || words[0];
    if (!text) continue;
    const gap = text.left - b.right;
    const dy = Math.abs((text.top + text.bottom) / 2 - (b.top + b.bottom) / 2);
    if (gap < -1 || gap > 24 || dy > 12) {
      far.push([label.textContent.trim().slice(0, 40), gap, dy]);
    }
  }
  return far;
}"""


def test_checkboxes_sit_beside_their_labels(browser: Browser, site: dict[str, Any]) -> None:
    page = logged_in(browser, site["base"], "ada@craft.test", viewport=DESKTOP)
    seen = 0
    for path in ("/publishing", "/listening/rules", "/contacts/new", "/admin/identity"):
        page.goto(f"{site['base']}{path}")
        seen += page.locator("main input[type=checkbox]:visible").count()
        assert page.evaluate(CHECKBOXES_BESIDE_LABELS) == [], path
    assert seen >= 8


OUTSIDE_THEIR_CARDS = """() => [...document.querySelectorAll('main table')].filter(t => {
  const box = t.parentElement.closest('.table-card, .table-wrap');
  return !box || !['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
}).map(t => t.id || t.className || t.outerHTML.slice(0, 60))"""


def test_long_text_wraps_and_tables_scroll_inside_their_cards(
    browser: Browser, site: dict[str, Any]
) -> None:
    page = logged_in(browser, site["base"], "ada@craft.test", viewport=DESKTOP)
    for path in pages(site["ids"]):
        page.goto(f"{site['base']}{path}")
        assert page.evaluate(SIDEWAYS) <= 0, (path, page.evaluate(SIDEWAYS))
        assert page.evaluate(OUTSIDE_THEIR_CARDS) == [], path


ACTIONS = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')];
  const shown = all.filter(e => e.offsetParent !== null && !e.disabled
    && getComputedStyle(e).visibility !== 'hidden'
    && !e.closest('details:not([open]) > :not(summary)'));
  shown.forEach((e, i) => e.setAttribute('data-order', i));
  return shown.length;
}"""
FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
    || s.boxShadow !== 'none';
  return [e.getAttribute('data-order'), ring, e.outerHTML.slice(0, 80)];
}"""


@pytest.mark.parametrize("record", ["contact", "ticket", "lead"])
def test_every_action_of_a_record_is_reached_with_tab_in_reading_order(
    browser: Browser, site: dict[str, Any], record: str
) -> None:
    page = logged_in(browser, site["base"], "ada@craft.test", viewport=DESKTOP)
    page.goto(f"{site['base']}/{record}s/{site['ids'][record]}")
    count = page.evaluate(ACTIONS)
    assert count > 10
    order: list[int] = []
    for _ in range(count + 5):
        page.keyboard.press("Tab")
        index, ring, html = page.evaluate(FOCUSED)
        if index is None:
            continue
        assert ring, f"no visible focus on {html}"
        order.append(int(index))
        if int(index) == count - 1:
            break
    assert order == list(range(count)), order  # each once, in the order they are read


CONTRAST = """() => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255];
  };
  const poor = [];
  for (const e of document.querySelectorAll('body *')) {
    const text = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text || !e.offsetParent || e.closest('.visually-hidden, .skip')) continue;
    const s = getComputedStyle(e), fg = rgb(s.color), bg = background(e);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x), ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.6 && s.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      poor.push([e.tagName, e.textContent.trim().slice(0, 30), ratio.toFixed(2)]);
    }
  }
  return poor;
}"""


def test_text_has_the_contrast_wcag_aa_asks(browser: Browser, site: dict[str, Any]) -> None:
    page = logged_in(browser, site["base"], "ada@craft.test", viewport=DESKTOP)
    for path in pages(site["ids"]):
        page.goto(f"{site['base']}{path}")
        assert page.evaluate(CONTRAST) == [], path
