"""Explainable confidence that a public profile is a Contact's. Pure: no I/O.

Each signal is a score in [0, 1] with a weight; the confidence is their noisy-OR,
``1 - Π(1 - weight·score)``: independent pieces of evidence add up, none alone exceeds its
weight, and every contribution is stored with the link so a person sees *why*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import tldextract
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from socialcrm.providers.base import ProfileData

WEIGHTS: Mapping[str, float] = {
    "email": 0.95,  # the network confirmed the Contact's email belongs to the profile
    "handle": 0.85,  # the Contact record names this very handle
    "domain": 0.6,  # the profile links to the Contact's website / email domain
    "name": 0.45,  # display name similarity
    "company": 0.35,  # the company appears in the bio or headline
    "networks": 0.3,  # agrees with the Contact's profile on another network
    "location": 0.2,
}
NAME_FLOOR = 0.6  # below this similarity a name says nothing
FREE_MAIL = frozenset(
    (
        *("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com"),
        *("yahoo.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com"),
        *("gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.ru", "yandex.com"),
        *("zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com"),
    )
)
_COMPANY_SUFFIX = re.compile(
    r"\b(ltd|limited|inc|incorporated|llc|gmbh|ag|sa|sas|bv|plc|corp|corporation|co)\b\.?", re.I
)
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+", re.I)
_extract = tldextract.TLDExtract(suffix_list_urls=())  # the bundled list; never fetches


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What matching needs to know about a Contact."""

    name: str
    emails: tuple[str, ...] = ()
    company: str = ""
    website: str = ""
    location: str = ""
    handles: Mapping[str, frozenset[str]] = field(default_factory=dict)  # network → handles


@dataclass(slots=True)
class Candidate:
    """A profile a lookup returned for a Contact, and how we found it."""

    profile: ProfileData
    via: set[str] = field(default_factory=set)  # email | handle | search
    verified_email: str = ""


@dataclass(frozen=True, slots=True)
class Scored:
    profile: ProfileData
    confidence: float
    signals: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Decision:
    profile: ProfileData
    status: str  # linked | suggested
    confidence: float
    signals: dict[str, Any]


def host_of(url: str) -> str:
    text = url.strip()
    if not text:
        return ""
    if "://" not in text:
        text = "http://" + text
    host = (urlsplit(text).hostname or "").lower()
    return host.removeprefix("www.")


@lru_cache(maxsize=4096)
def registrable(host: str) -> str:
    parts = _extract(host)
    return parts.top_domain_under_public_suffix or host


def _profile_hosts(profile: ProfileData) -> set[str]:
    urls = list(profile.links) + _URL_IN_TEXT.findall(profile.bio)
    return {h for h in (host_of(u) for u in urls) if h}


def name_similarity(a: str, b: str) -> float:
    if not a.strip() or not b.strip():
        return 0.0
    strict = fuzz.token_sort_ratio(a, b, processor=default_process)
    loose = fuzz.partial_token_sort_ratio(a, b, processor=default_process) * 0.9
    return round(max(strict, loose) / 100.0, 3)


def company_key(company: str) -> str:
    return " ".join(_COMPANY_SUFFIX.sub(" ", company.lower()).split())


def handle_stem(handle: str) -> str:
    """``ada``, ``@ada@mastodon.social``, ``ada.bsky.social`` → ``ada``."""
    text = handle.strip().lstrip("@").lower()
    return text.split("@", 1)[0].split(".", 1)[0]


def signals_for(facts: ContactFacts, candidate: Candidate) -> list[dict[str, Any]]:
    """Every signal that speaks for the candidate, with its score, weight and reason."""
    p = candidate.profile
    found: list[dict[str, Any]] = []

    def add(name: str, score: float, detail: str) -> None:
        if score > 0:
            found.append(
                {
                    "signal": name,
                    "score": round(score, 3),
                    "weight": WEIGHTS[name],
                    "detail": detail,
                }
            )

    if candidate.verified_email:
        add("email", 1.0, f"{p.network} confirms {candidate.verified_email}")
    known = facts.handles.get(p.network, frozenset())
    if p.handle.lower() in known or (p.user_id and p.user_id.lower() in known):
        add("handle", 1.0, f"the Contact lists @{p.handle} on {p.network}")
    similarity = name_similarity(facts.name, p.display_name)
    if similarity >= NAME_FLOOR:
        add("name", similarity, f"name {p.display_name!r} ~ {facts.name!r} ({similarity:.2f})")
    add_domain(facts, p, add)
    company = company_key(facts.company)
    text = f"{p.headline} {p.bio}".lower().strip()
    # partial_ratio scores the shorter string inside the longer: the bio must be the longer.
    fits = len(company) >= 3 and len(text) >= len(company)
    if fits and fuzz.partial_ratio(company, text) >= 90:
        add("company", 1.0, f"mentions {facts.company!r}")
    near = facts.location and p.location
    if near and fuzz.token_set_ratio(facts.location, p.location, processor=default_process) >= 85:
        add("location", 1.0, f"location {p.location!r}")
    return found


def add_domain(facts: ContactFacts, p: ProfileData, add: Any) -> None:
    hosts = _profile_hosts(p)
    if not hosts:
        return
    website = host_of(facts.website)
    if website and website in hosts:
        add("domain", 1.0, f"links to {website}")
        return
    domains = {registrable(h) for h in hosts}
    ours = {registrable(website)} if website else set()
    ours |= {e.rsplit("@", 1)[-1].lower() for e in facts.emails if "@" in e}
    ours -= FREE_MAIL
    shared = sorted(ours & domains)
    if shared:
        add("domain", 0.5, f"links to the domain {shared[0]}")


def confidence(signals: Iterable[Mapping[str, Any]]) -> float:
    miss = 1.0
    for s in signals:
        miss *= 1.0 - float(s["weight"]) * float(s["score"])
    return round(1.0 - miss, 4)


def score(facts: ContactFacts, candidate: Candidate) -> Scored:
    found = signals_for(facts, candidate)
    return Scored(candidate.profile, confidence(found), found)


def with_cross_network(
    scored: Sequence[Scored], others: Mapping[str, Sequence[ProfileData]], floor: float
) -> list[Scored]:
    """Add the "networks" signal where a candidate agrees with a profile of the Contact on
    another network (same handle stem or a shared linked site).

    ``others`` are profiles already believed to be the Contact's (linked ones, and candidates
    that scored at least ``floor`` on their own), by network.
    """
    out: list[Scored] = []
    for s in scored:
        agree = sorted(
            network
            for network, profiles in others.items()
            if network != s.profile.network and any(_agree(s.profile, o) for o in profiles)
        )
        if not agree:
            out.append(s)
            continue
        extra = {
            "signal": "networks",
            "score": 1.0,
            "weight": WEIGHTS["networks"],
            "detail": "agrees with the profile on " + ", ".join(agree),
        }
        found = [*s.signals, extra]
        out.append(Scored(s.profile, confidence(found), found))
    return out


def _agree(a: ProfileData, b: ProfileData) -> bool:
    stem_a, stem_b = handle_stem(a.handle), handle_stem(b.handle)
    if stem_a and len(stem_a) >= 3 and stem_a == stem_b:
        return True
    return bool(_profile_hosts(a) & _profile_hosts(b))


def decide(scored: Sequence[Scored], auto_link: float, suggest: float) -> list[Decision]:
    """Per network: exactly one candidate ≥ ``auto_link`` is linked; every other candidate
    ≥ ``suggest`` (and several that tie above ``auto_link``) is suggested; the rest dropped."""
    by_network: dict[str, list[Scored]] = {}
    for s in scored:
        by_network.setdefault(s.profile.network, []).append(s)
    decisions: list[Decision] = []
    for group in by_network.values():
        strong = [s for s in group if s.confidence >= auto_link]
        for s in group:
            if s.confidence < suggest:
                continue
            linked = len(strong) == 1 and s is strong[0]
            explained: dict[str, Any] = {"items": s.signals}
            if s.confidence >= auto_link and not linked:
                explained["ambiguous"] = f"{len(strong)} profiles scored ≥ {auto_link}"
            decisions.append(
                Decision(s.profile, "linked" if linked else "suggested", s.confidence, explained)
            )
    return decisions
