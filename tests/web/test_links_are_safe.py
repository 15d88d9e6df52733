"""Outside addresses become links only when they are http(s): a website, a profile link or a
post URL saying ``javascript:…`` is shown as text and never runs in an agent's browser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.web.render import templates, web_href


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://acme.example/about", "https://acme.example/about"),
        ("HTTP://acme.example", "HTTP://acme.example"),
        ("  https://acme.example  ", "https://acme.example"),
        ("javascript:alert(1)", ""),
        ("JaVaScRiPt:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("acme.example", ""),  # no scheme: shown as text, not guessed into a link
        ("", ""),
        (None, ""),
    ],
)
def test_only_http_addresses_become_hrefs(url: str | None, href: str) -> None:
    assert web_href(url) == href


def test_the_contact_page_never_links_a_script_website() -> None:
    page = templates.env.from_string(
        '{% if w | web_href %}<a href="{{ w | web_href }}">{{ w }}</a>{% else %}{{ w }}{% endif %}'
    )
    assert "<a" not in page.render(w="javascript:alert(1)")
    assert '<a href="https://acme.example">' in page.render(w="https://acme.example")


@pytest.mark.parametrize(
    "website", ["javascript:alert(document.cookie)", "data:text/html,hi", "vbscript:msgbox"]
)
def test_a_script_website_is_refused_with_the_envelope(api: TestClient, website: str) -> None:
    answer = api.post("/api/contacts", json={"name": "Mallory", "website": website})
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["code"]
    assert api.get("/api/contacts", params={"q": "Mallory"}).json()["items"] == []


@pytest.mark.parametrize(
    "website",
    ["https://acme.example", "http://acme.example/x", "acme.example", "acme.example:8080"],
)
def test_ordinary_websites_are_kept(api: TestClient, website: str) -> None:
    answer = api.post("/api/contacts", json={"name": "Ada", "website": website})
    assert answer.status_code == 201, answer.text
    assert answer.json()["website"] == website
