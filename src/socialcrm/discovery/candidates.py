"""Every profile link one HTML page carries, with where it sits and how it is marked. Pure, no
I/O: anchors, ``rel="me"``, JSON-LD ``sameAs``, ``twitter:site`` and other meta tags, embedded
widgets (page plugins, timelines, follow and subscribe buttons) and encoded redirect targets;
each candidate's zone (a social block, the page's chrome, body copy, a credit line, an
embedded post). Choosing among them is ``extract.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from socialcrm.discovery.canonical import canonical_profile


class Source(StrEnum):
    JSON_LD = "json_ld"
    REL_ME = "rel_me"
    META = "meta"
    WIDGET = "widget"
    ANCHOR = "anchor"


class Zone(StrEnum):
    SOCIAL_BLOCK = "social_block"  # an element named social/follow/…, wherever it sits
    CHROME = "chrome"  # header, footer, nav, aside
    BODY = "body"
    CREDIT = "credit"  # "Theme by", "Website by", "Powered by" lines
    EMBED = "embed"  # an embedded post of someone else


@dataclass(frozen=True, slots=True)
class Candidate:
    network: str
    url: str  # canonical
    source: Source
    zone: Zone
    marked: bool = False  # icon, aria-label, title or class naming the network / "follow"
    self_reference: bool = False  # its line says "follow us", "our Instagram", "suivez-nous"


# A page with none of these strings has no social link: skip parsing it for candidates.
# Plain substring tests on the lower-cased page (C speed); a regex alternation is 100x slower.
_SOCIAL_HINTS: Final = (
    "facebook",
    "instagr",
    "linkedin",
    "twitter",
    "x.com",
    "tiktok",
    "youtube",
    "threads.",
    "bsky",
    "github.com",
    "pinterest",
    "fb.me",
    "fb.com",
    "sameas",
    "/@",  # a Mastodon account on a well-known server, without rel="me"
    "rel",
)
_SOCIAL_URL_IN_TEXT: Final = re.compile(
    r"(?:https?:)?//(?:[a-z0-9-]+\.)*(?:facebook|instagram|linkedin|twitter|x|tiktok|youtube|"
    r"threads|bsky|github|pinterest)\.[a-z.]{2,6}/[^\s\"'<>\\)]*",
    re.IGNORECASE,
)
_BLOCK_WORDS: Final = re.compile(
    r"social|follow|socials|sociaux|soziale?|networks?|connect|share-links|icons?-list|"
    r"sm-links|community",
    re.IGNORECASE,
)
_SHARE_WORDS: Final = re.compile(r"share|sharing|partager|teilen|addtoany|a2a|sharethis", re.I)
_CHROME_TAGS: Final = frozenset({"footer", "header", "nav", "aside"})
_CHROME_WORDS: Final = re.compile(r"footer|header|masthead|navbar|topbar|site-info|colophon", re.I)
_EMBED_WORDS: Final = re.compile(
    r"twitter-tweet|instagram-media|tiktok-embed|fb-post|fb-comments|fb-video|"
    r"testimonial|review|comment|trustpilot|embedded-post|bluesky-embed|mastodon-embed",
    re.IGNORECASE,
)
_CREDIT_TEXT: Final = re.compile(
    r"\b(?:theme|template|website|site|design(?:ed)?|developed|built|made|powered|created|"
    r"crafted|hosted)\s+(?:by|with)\b|\bréalis[ée]+ par\b|\bconçu par\b|\bdéveloppé par\b|"
    r"\bumgesetzt von\b|\bgestaltet von\b|\bwebdesign\b|\bphoto(?:s|graphy)? (?:by|credit)\b",
    re.IGNORECASE,
)
_SELF_PHRASE: Final = re.compile(
    r"\b(?:find|follow|join|like|visit|connect with|subscribe to|see|reach) us\b|"
    r"\bour (?:facebook|instagram|linkedin|twitter|tiktok|youtube|pinterest|threads|page|"
    r"channel|profile|feed|account)\b|\bfinden sie uns\b|\bsie finden uns\b|"
    r"\bfolg(?:t|en sie) uns\b|"
    r"síguenos|seguici|suivez[- ]nous|retrouvez[- ]nous|rejoignez[- ]nous|volg ons",
    re.IGNORECASE,
)
_NETWORK_WORDS: Final = re.compile(
    r"facebook|instagram|linkedin|twitter|tiktok|youtube|threads|bluesky|mastodon|github|"
    r"pinterest|\bfb\b|\bx\b|\big\b|follow|folgen|suivez|social",
    re.IGNORECASE,
)
_ORG_TYPES_NESTED_AWAY: Final = frozenset(
    {
        "author",
        "creator",
        "reviewer",
        "review",
        "employee",
        "employees",
        "founder",
        "founders",
        "member",
        "members",
        "contributor",
        "editor",
        "performer",
        "attendee",
        "comment",
    }
)


def has_social_hint(html: str) -> bool:
    text = html.lower()
    if any(hint in text for hint in _SOCIAL_HINTS[:-1]):
        return True
    return 'rel="me"' in text or "rel='me'" in text or "rel=me" in text


# Substrings of links that may lead to a profile (hosts, or an encoded/wrapped target).
_LINK_HINTS: Final = (
    "facebook",
    "fb.",
    "instagr",
    "linkedin",
    "twitter",
    "x.com",
    "tiktok",
    "youtube",
    "threads.",
    "bsky",
    "github",
    "pinterest",
    "%2f%2f",
    "url=",
    "u=",
    "/@",
)
# Only elements that can carry a profile link are handed to Python; lexbor filters the rest
# (attribute substring matches, case-insensitive), which keeps a 50 KB page under a millisecond.
_SELECTOR: Final = ", ".join(
    [f'a[href*="{hint}" i]' for hint in _LINK_HINTS]
    + [
        '[rel~="me" i]',
        "meta[content]",
        'script[type="application/ld+json"]',
        "iframe[src]",
        "[data-href]",
        "[data-url]",
        "[data-channel]",
        "[data-channelid]",
        "[onclick]",
    ]
)


def find_candidates(html: str, base_url: str = "") -> list[Candidate]:
    """Every profile link of ``html`` (relative links resolved against ``base_url``).

    One pass over the elements that can carry a link; everything else in the page is skipped
    in C by the selector, and only links that look social are examined further.
    """
    if not has_social_hint(html):
        return []
    found: list[Candidate] = []
    seen: set[int] = set()
    for node in LexborHTMLParser(html).css(_SELECTOR):
        if node.mem_id in seen:  # an element matched by several selectors
            continue
        seen.add(node.mem_id)
        tag = node.tag
        if tag in ("a", "area", "link"):
            found.extend(_from_link(node, base_url))
        elif tag == "meta":
            found.extend(_from_meta(node))
        elif tag == "script":
            found.extend(_from_json_ld(node))
        if tag not in ("link", "meta", "script"):
            found.extend(_from_widget(node))
    return found


def _candidate(
    url: str,
    source: Source,
    zone: Zone,
    *,
    marked: bool = False,
    fediverse: bool = False,
    self_reference: bool = False,
) -> Candidate | None:
    profile = canonical_profile(url, fediverse=fediverse)
    if profile is None:
        return None
    network, canonical = profile
    return Candidate(network, canonical, source, zone, marked, self_reference)


def _from_json_ld(script: LexborNode) -> Iterator[Candidate]:
    text = script.text(deep=True, separator="", strip=False)
    for url, nested_away in _same_as(_load_json(text)):
        if nested_away:
            continue  # an author's or reviewer's profile, not the organisation's
        found = _candidate(url, Source.JSON_LD, Zone.SOCIAL_BLOCK, marked=True, fediverse=True)
        if found is not None:
            yield found


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # Hand-written JSON-LD often has trailing commas or raw newlines in strings.
        cleaned = re.sub(r",\s*([}\]])", r"\1", text.replace("\n", " ").replace("\t", " "))
        try:
            return json.loads(cleaned)
        except ValueError:
            urls = _SOCIAL_URL_IN_TEXT.findall(text) if "sameAs" in text else []
            return {"sameAs": urls}


def _same_as(node: Any, nested_away: bool = False) -> Iterator[tuple[str, bool]]:
    if isinstance(node, list):
        for item in node:
            yield from _same_as(item, nested_away)
        return
    if not isinstance(node, dict):
        return
    same = node.get("sameAs")
    values = [same] if isinstance(same, str) else same if isinstance(same, list) else []
    for value in values:
        if isinstance(value, str):
            yield value, nested_away
    for key, value in node.items():
        if isinstance(value, dict | list) and key != "sameAs":
            away = nested_away or key.lower() in _ORG_TYPES_NESTED_AWAY
            yield from _same_as(value, away)


def _from_meta(meta: LexborNode) -> Iterator[Candidate]:
    attrs = meta.attrs
    key = (attrs.get("name") or attrs.get("property") or "").lower()
    if key not in _META_KEYS:
        return
    content = (attrs.get("content") or "").strip()
    url: str | None = None
    if key == "twitter:site":
        url = _x_from_handle(content)
    elif key == "fb:pages":
        page = content.split(",")[0].strip()
        url = f"https://www.facebook.com/profile.php?id={page}" if page.isdigit() else None
    else:
        url = content
    if url:
        found = _candidate(url, Source.META, Zone.SOCIAL_BLOCK, marked=True)
        if found is not None:
            yield found


_META_KEYS: Final = frozenset({"twitter:site", "article:publisher", "og:see_also", "fb:pages"})


def _x_from_handle(content: str) -> str | None:
    if "/" in content:
        return content
    name = content.strip().lstrip("@")
    return f"https://x.com/{name}" if re.fullmatch(r"[A-Za-z0-9_]{1,15}", name) else None


def _from_link(node: LexborNode, base_url: str) -> Iterator[Candidate]:
    attrs = node.attrs
    href = (attrs.get("href") or "").strip()
    if not href or href[0] == "#":
        return
    rel = (attrs.get("rel") or "").lower()
    is_me = "me" in rel.split() if rel else False
    if not is_me and (node.tag == "link" or not looks_social(href)):
        return
    url = urljoin(base_url, href) if base_url and _is_relative(href) else href
    if is_me:
        found = _candidate(url, Source.REL_ME, Zone.SOCIAL_BLOCK, marked=True, fediverse=True)
    else:
        zone, says_us = _placement(node)
        if zone is Zone.EMBED:
            return
        found = _candidate(
            url, Source.ANCHOR, zone, marked=_is_marked(node), self_reference=says_us
        )
    if found is not None:
        yield found


def _is_relative(href: str) -> bool:
    return not href[:8].lower().startswith(("http://", "https://", "//"))


def looks_social(href: str) -> bool:
    """Cheap test: could this link lead to a social profile?"""
    low = href.lower()
    return any(hint in low for hint in _LINK_HINTS)


def _from_widget(node: LexborNode) -> Iterator[Candidate]:
    attrs = node.attrs
    onclick = attrs.get("onclick")
    if onclick and looks_social(onclick):
        zone, says_us = _placement(node)
        for url in _SOCIAL_URL_IN_TEXT.findall(onclick):
            found = _candidate(
                url, Source.ANCHOR, zone, marked=_is_marked(node), self_reference=says_us
            )
            if found is not None:
                yield found
    keys = ("data-href", "data-url") if node.tag != "iframe" else ("src", "data-href")
    values = [attrs.get(key) for key in keys]
    channel, name = attrs.get("data-channelid"), attrs.get("data-channel")
    if channel:
        values.append(f"https://www.youtube.com/channel/{channel}")
    if name:
        values.append(f"https://www.youtube.com/user/{name}")
    if not any(value and looks_social(value) for value in values):
        return
    if _EMBED_WORDS.search(_names(node)):
        return
    for value in values:
        if value and looks_social(value):
            found = _candidate(value, Source.WIDGET, Zone.SOCIAL_BLOCK, marked=True)
            if found is not None:
                yield found


def _names(node: LexborNode) -> str:
    attrs = node.attrs
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''} {attrs.get('role') or ''}"


def _placement(node: LexborNode) -> tuple[Zone, bool]:
    """Where a link sits, and whether its line speaks of the organisation itself."""
    line = _block_text(node)
    if line and _CREDIT_TEXT.search(line):
        return Zone.CREDIT, False
    return _zone(node), bool(line) and _SELF_PHRASE.search(line) is not None


def _zone(node: LexborNode) -> Zone:
    """Where a link sits: the nearest telling ancestor decides."""
    zone: Zone | None = None
    parent = node.parent
    depth = 0
    names = _names(node)
    if _EMBED_WORDS.search(names):
        return Zone.EMBED
    if _BLOCK_WORDS.search(names) and not _SHARE_WORDS.search(names):
        zone = Zone.SOCIAL_BLOCK
    while parent is not None and depth < 25:
        tag = parent.tag
        if tag in {"html", "body", "-undef"}:
            break
        names = _names(parent)
        if names.strip():
            if _EMBED_WORDS.search(names) or tag == "blockquote":
                return Zone.EMBED
            if zone is None and _BLOCK_WORDS.search(names) and not _SHARE_WORDS.search(names):
                zone = Zone.SOCIAL_BLOCK
            if zone is None and _CHROME_WORDS.search(names):
                zone = Zone.CHROME
        if zone is None and tag in _CHROME_TAGS:
            zone = Zone.CHROME
        if tag == "blockquote":
            return Zone.EMBED
        parent = parent.parent
        depth += 1
    return zone or Zone.BODY


def _block_text(node: LexborNode) -> str:
    """The text of the line a link sits in (its paragraph-like parent), for credit lines."""
    parent = node.parent
    hops = 0
    while parent is not None and hops < 2 and parent.tag in {"span", "small", "strong", "em", "b"}:
        parent = parent.parent
        hops += 1
    if parent is None or parent.tag in {"ul", "ol", "nav", "body", "html"}:
        return ""
    text = parent.text(deep=True, separator=" ", strip=True)
    return text[:300] if len(text) <= 600 else ""


def _is_marked(node: LexborNode) -> bool:
    attrs = node.attrs
    label = " ".join(
        attrs.get(k) or "" for k in ("aria-label", "title", "class", "data-network", "rel")
    )
    if _NETWORK_WORDS.search(label):
        return True
    for child in node.iter(include_text=False):
        child_attrs = child.attrs
        hint = f"{child_attrs.get('class') or ''} {child_attrs.get('alt') or ''}"
        hint += f" {child_attrs.get('src') or ''} {child_attrs.get('href') or ''}"
        if _NETWORK_WORDS.search(hint):
            return True
    return bool(_NETWORK_WORDS.search(node.text(deep=True, separator=" ", strip=True)[:60]))
