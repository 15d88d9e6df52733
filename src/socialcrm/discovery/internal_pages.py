"""The internal pages of a site worth a look for its profiles (contact, about, imprint …), and
a host's registrable domain (tldextract's bundled suffix list, no network fetch). Pure, no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import urljoin, urlsplit

import tldextract
from selectolax.lexbor import LexborHTMLParser

_extract_domain = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
_LIKELY_PAGES: Final = re.compile(
    r"contact|kontakt|contatt|contacto|about|a-propos|apropos|qui-sommes|uber-uns|ueber-uns|"
    r"über-uns|chi-siamo|impressum|imprint|legal|mentions|colophon|team|company|nous|"
    r"connect|social|follow",
    re.IGNORECASE,
)


def likely_internal_pages(html: str, page_url: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` same-site pages likely to list the profiles (contact, about, impressum)."""
    tree = LexborHTMLParser(html)
    host = registered_domain(urlsplit(page_url).hostname or "")
    ranked: list[tuple[int, int, str]] = []
    seen = {page_url.rstrip("/")}
    for order, node in enumerate(tree.css("a[href]")):
        href = (node.attrs.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        url = urljoin(page_url, href).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or registered_domain(parts.hostname or "") != host:
            continue
        text = node.text(deep=True, separator=" ", strip=True)[:80]
        match = _LIKELY_PAGES.search(parts.path) or _LIKELY_PAGES.search(text)
        if match is None or url.rstrip("/") in seen:
            continue
        if re.search(r"\.(?:pdf|jpe?g|png|gif|zip|docx?|xlsx?|mp4|svg)$", parts.path, re.I):
            continue
        seen.add(url.rstrip("/"))
        rank = 0 if re.search(r"contact|kontakt|impressum|imprint", match.group(0), re.I) else 1
        ranked.append((rank, order, url))
    ranked.sort()
    return [url for _, _, url in ranked[:limit]]


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    parts = _extract_domain(host.lower())
    if not parts.suffix:  # no public suffix (intranet names, .example): the host itself
        return host.lower().removeprefix("www.")
    return f"{parts.domain}.{parts.suffix}"
