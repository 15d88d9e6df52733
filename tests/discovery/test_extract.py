"""Extraction on the project's fixture corpus of realistic pages, and its individual rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from socialcrm.discovery.candidates import Source, Zone, find_candidates
from socialcrm.discovery.extract import extract_profiles, similarity
from socialcrm.discovery.internal_pages import likely_internal_pages

PAGES = Path(__file__).parent / "pages"
CASES: list[dict[str, Any]] = json.loads((PAGES / "expected.json").read_text())


def test_the_corpus_is_large_and_covers_every_reported_network() -> None:
    assert len(CASES) >= 30
    networks = {n for case in CASES for n in case["expected"]}
    assert {"facebook", "instagram", "linkedin", "x", "tiktok", "youtube"} <= networks
    assert all((PAGES / case["file"]).exists() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_fixture_page(case: dict[str, Any]) -> None:
    html = (PAGES / case["file"]).read_text()
    assert extract_profiles(html, case["site"], case["name"]) == case["expected"]


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def test_a_footer_block_beats_a_link_in_body_copy() -> None:
    html = _page(
        '<main><p>We love <a href="https://www.instagram.com/otherbrand/">Other</a>.</p></main>'
        '<footer><a href="https://www.instagram.com/zeta.studio/">Instagram</a></footer>'
    )
    assert extract_profiles(html, "https://zeta.example", "Zeta") == {
        "instagram": "https://www.instagram.com/zeta.studio"
    }


def test_a_lone_unrelated_link_in_body_copy_is_not_the_organisation() -> None:
    html = _page('<p>Photos by <a href="https://www.instagram.com/lensmith/">Len</a>.</p>')
    assert extract_profiles(html, "https://zeta.example", "Zeta Studio") == {}


def test_name_similarity_promotes_a_body_link() -> None:
    html = _page('<p>News on <a href="https://www.instagram.com/zetastudio/">IG</a>.</p>')
    assert extract_profiles(html, "https://zeta-studio.example", "Zeta Studio") == {
        "instagram": "https://www.instagram.com/zetastudio"
    }


def test_credit_lines_and_embedded_posts_are_discarded() -> None:
    html = _page(
        '<blockquote class="twitter-tweet"><a href="https://twitter.com/someone">x</a></blockquote>'
        '<footer><p>Website by <a href="https://www.facebook.com/agencyco">Agency</a></p></footer>'
    )
    found = find_candidates(html, "https://zeta.example")
    assert [c.zone for c in found] == [Zone.CREDIT]
    assert extract_profiles(html, "https://zeta.example", "Zeta") == {}


def test_structured_data_and_meta_tags_are_read() -> None:
    head = (
        '<meta name="twitter:site" content="@ZetaHQ">'
        '<script type="application/ld+json">{"@type":"Organization",'
        '"sameAs":["https://www.linkedin.com/company/zeta-hq"]}</script>'
        '<link rel="me" href="https://fosstodon.org/@zeta">'
    )
    found = {c.source for c in find_candidates(_page("", head), "https://zeta.example")}
    assert found == {Source.META, Source.JSON_LD, Source.REL_ME}
    assert extract_profiles(_page("", head), "https://zeta.example", "Zeta") == {
        "x": "https://x.com/zetahq",
        "linkedin": "https://www.linkedin.com/company/zeta-hq",
        "mastodon": "https://fosstodon.org/@zeta",
    }


def test_placeholder_profiles_of_themes_are_ignored() -> None:
    html = _page(
        '<footer class="social"><a href="https://facebook.com/yourpage">f</a>'
        '<a href="https://twitter.com/username">t</a>'
        '<a href="https://www.instagram.com/envato">i</a></footer>'
    )
    assert extract_profiles(html, "https://zeta.example", "Zeta") == {}


def test_a_page_without_any_social_hint_is_not_parsed_at_all() -> None:
    assert find_candidates("<html><body><p>Hello</p></body></html>", "https://a.example") == []


def test_a_page_whose_only_profile_is_on_a_known_mastodon_server() -> None:
    html = _page('<footer><a href="https://mastodon.social/@zetahq">Mastodon</a></footer>')
    assert extract_profiles(html, "https://zeta.example/", "Zeta") == {
        "mastodon": "https://mastodon.social/@zetahq"
    }


def test_uppercase_and_relative_wrapped_links() -> None:
    html = _page(
        '<footer><a href="HTTPS://WWW.FACEBOOK.COM/ZetaHQ">F</a>'
        '<a href="/go?to=https%3A%2F%2Fwww.tiktok.com%2F%40zetahq">T</a></footer>'
    )
    assert extract_profiles(html, "https://zeta.example/", "Zeta") == {
        "facebook": "https://www.facebook.com/zetahq",
        "tiktok": "https://www.tiktok.com/@zetahq",
    }


def test_similarity_reads_names_and_domains() -> None:
    assert similarity("rosewoodbakerypdx", "Rosewood Bakery", "https://rosewoodbakery.com") > 0.8
    assert similarity("schreinereihuber", "Schreinerei Huber GmbH", "") > 0.9
    assert similarity("lensmith", "Zeta Studio", "https://zeta.example") < 0.5


def test_internal_pages_worth_a_look_come_contact_first() -> None:
    html = _page(
        '<a href="/blog">Blog</a><a href="/about-us">About us</a>'
        '<a href="https://other.example/contact">Their contact</a>'
        '<a href="/kontakt/">Kontakt</a><a href="/impressum">Impressum</a>'
        '<a href="/files/legal.pdf">Legal PDF</a><a href="mailto:a@b.c">mail</a>'
    )
    assert likely_internal_pages(html, "https://www.zeta.example/", 3) == [
        "https://www.zeta.example/kontakt/",
        "https://www.zeta.example/impressum",
        "https://www.zeta.example/about-us",
    ]
