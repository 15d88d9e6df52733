"""Read an organisation's own social profiles out of one HTML page, and choose among them.

Pure, no I/O. ``candidates.find_candidates`` collects every profile link a page carries, with
where it sits and how it is marked. ``choose_profiles`` keeps, per network, the candidate that
is the organisation's own: a footer/header social block or structured data outweighs body
copy, a credit line ("Website by …") and embedded third-party posts count for (almost)
nothing, and similarity to the organisation's name and domain breaks ties.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from socialcrm.discovery.candidates import Candidate, Source, Zone, find_candidates
from socialcrm.discovery.canonical import profile_handle
from socialcrm.discovery.internal_pages import registered_domain


@dataclass(slots=True)
class Choice:
    network: str
    url: str
    score: float
    evidence: list[Candidate] = field(default_factory=list)


_PLACEHOLDERS: Final = frozenset(
    [
        "yourpage",
        "your-page",
        "yourpagename",
        "username",
        "yourusername",
        "your-username",
        "yourname",
        "yourhandle",
        "yourcompany",
        "your-company",
        "yourchannel",
        "your_channel",
        "yourprofile",
        "company-name",
        "companyname",
        "page",
        "pagename",
        "profile",
        "example",
        "demo",
        "test",
        "handle",
        "user",
        "account",
        "channel",
        "name",
        "envato",
        "themeforest",
        "wordpress",
        "wix",
        "squarespace",
        "shopify",
        "elementor",
        "templatemonster",
        "webflow",
        "godaddy",
        "weebly",
        "jimdo",
        "hubspot",
        "themeisle",
        "themefusion",
        "flatsome",
        "divi",
        "elegantthemes",
        "facebook",
        "instagram",
        "linkedin",
        "twitter",
        "tiktok",
        "youtube",
        "pinterest",
        "threads",
        "github",
    ]
)
_ORG_KINDS: Final = ("/company/", "/school/", "/showcase/")
_SOURCE_WEIGHT: Final = {
    Source.JSON_LD: 5.0,
    Source.REL_ME: 5.0,
    Source.META: 4.0,
    Source.WIDGET: 4.0,
}
_ZONE_WEIGHT: Final = {
    Zone.SOCIAL_BLOCK: 3.5,
    Zone.CHROME: 3.0,
    Zone.BODY: 1.5,
    Zone.CREDIT: 0.3,
    Zone.EMBED: 0.0,
}
ACCEPT_SCORE: Final = 2.5


def _compact(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


_NAME_NOISE: Final = re.compile(
    r"\b(?:the|and|et|und|gmbh|ag|sa|sas|sarl|srl|ltd|llc|inc|co|corp|bv|nv|oy|ab|plc|kg|"
    r"limited|company|group)\b\.?",
    re.IGNORECASE,
)


def similarity(handle: str, org_name: str, site_url: str) -> float:
    """0..1: how much a handle looks like the organisation's name or its domain."""
    target = _compact(handle)
    if not target:
        return 0.0
    options = [_compact(_NAME_NOISE.sub(" ", org_name))] if org_name else []
    host = urlsplit(site_url if "//" in site_url else "//" + site_url).hostname or ""
    if host:
        options.append(_compact(registered_domain(host).split(".", 1)[0]))
    best = 0.0
    for option in options:
        if len(option) < 2:
            continue
        score = max(fuzz.ratio(target, option), _containment(target, option))
        best = max(best, score / 100.0)
    return best


def _containment(a: str, b: str) -> float:
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 4 and short in long_:
        return 70.0 + 30.0 * len(short) / len(long_)
    return 0.0


def _weight(candidate: Candidate) -> float:
    base = _SOURCE_WEIGHT.get(candidate.source) or _ZONE_WEIGHT[candidate.zone]
    if candidate.source is Source.ANCHOR and candidate.zone is Zone.CREDIT:
        return _ZONE_WEIGHT[Zone.CREDIT]
    bonus = (0.5 if candidate.marked else 0.0) + (1.0 if candidate.self_reference else 0.0)
    return base + bonus


def _is_placeholder(url: str, org_name: str, site_url: str) -> bool:
    handle = profile_handle(url).lower()
    if handle not in _PLACEHOLDERS:
        return False
    return similarity(handle, org_name, site_url) < 0.9  # a network's own site keeps its own


def choose_profiles(
    candidates: Iterable[Candidate], org_name: str = "", site_url: str = ""
) -> dict[str, Choice]:
    """The organisation's own profile per network, among ``candidates`` of its pages."""
    by_url: dict[str, Choice] = {}
    for candidate in candidates:
        if candidate.zone is Zone.EMBED:
            continue
        choice = by_url.get(candidate.url)
        if choice is None:
            choice = by_url[candidate.url] = Choice(candidate.network, candidate.url, 0.0)
        choice.evidence.append(candidate)
    best: dict[str, Choice] = {}
    for choice in by_url.values():
        if _is_placeholder(choice.url, org_name, site_url):
            continue
        weights = sorted((_weight(c) for c in choice.evidence), reverse=True)
        score = weights[0] + 0.25 * sum(weights[1:4])
        sim = similarity(profile_handle(choice.url), org_name, site_url)
        if sim >= 0.5:
            score += 3.0 * sim
        if choice.network == "linkedin" and any(k in choice.url for k in _ORG_KINDS):
            score += 0.5
        choice.score = round(score, 3)
        current = best.get(choice.network)
        if choice.score >= ACCEPT_SCORE and (current is None or choice.score > current.score):
            best[choice.network] = choice
    return best


def extract_profiles(html: str, base_url: str, org_name: str = "") -> dict[str, str]:
    """Shortcut for one page: network -> canonical URL of the organisation's profiles."""
    chosen = choose_profiles(find_candidates(html, base_url), org_name, base_url)
    return {network: choice.url for network, choice in chosen.items()}
