"""Mastodon's HTML fragments (bios, posts, profile fields) to plain text and links, stdlib only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset({"p", "div", "li", "blockquote"})


class _TextAndLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            href = dict(attrs).get("href")
            if href and href.startswith(("http://", "https://")) and href not in self.links:
                self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _parse(html: str) -> _TextAndLinks:
    parser = _TextAndLinks()
    parser.feed(html)
    parser.close()
    return parser


def html_to_text(html: str) -> str:
    """Paragraphs become blank lines, ``<br>`` a newline; tags dropped, entities decoded."""
    text = "".join(_parse(html).parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_links(html: str) -> list[str]:
    """The http(s) link targets in order, without duplicates."""
    return _parse(html).links
