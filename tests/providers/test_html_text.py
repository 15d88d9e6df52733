from __future__ import annotations

import pytest

from socialcrm.providers.html_text import html_links, html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Poet of science &amp; engines.</p>", "Poet of science & engines."),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<p>line<br>next<br/>last</p>", "line\nnext\nlast"),
        (
            '<p>hi <span class="h-card"><a href="https://m.example/@grace" class="u-url mention">'
            "@<span>grace</span></a></span></p>",
            "hi @grace",
        ),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_links_in_order_without_duplicates_or_non_http() -> None:
    html = (
        '<a href="https://ada.example.com">a</a> <a href="mailto:a@b.c">m</a>'
        '<a href="https://ada.example.com">again</a><a href="http://two.example">2</a>'
    )
    assert html_links(html) == ["https://ada.example.com", "http://two.example"]
