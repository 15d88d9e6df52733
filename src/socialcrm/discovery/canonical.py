"""Canonical social profile URLs from any link a web page (or an email signature) carries.

Pure, no I/O. ``canonical_profile(url)`` answers ``(network, canonical_url)`` for a link to a
profile, or ``None`` for anything else: share dialogs and intents, posts, tracking pixels,
searches, non-social sites. Wrapped links (``l.facebook.com/l.php?u=…``, ``/out?url=…``, page
plugins' ``href=``) are unwrapped first; legacy and mobile hosts, ``#!/`` paths, follow intents
and ``subscription_center`` links are read as the profile they lead to. The eight networks of
``providers.handles`` use its parser and canonical forms, so both agree on every URL; Threads,
GitHub and Pinterest are added here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from socialcrm.providers.handles import InvalidHandle, Network, canonical_url, parse_handle

THREADS: Final = "threads"
GITHUB: Final = "github"
PINTEREST: Final = "pinterest"

# Every network discovery reports, in output-column order. "x" is the column social_twitter.
NETWORKS: Final[tuple[str, ...]] = (
    Network.FACEBOOK.value,
    Network.INSTAGRAM.value,
    Network.LINKEDIN.value,
    Network.X.value,
    Network.TIKTOK.value,
    Network.YOUTUBE.value,
    THREADS,
    Network.BLUESKY.value,
    Network.MASTODON.value,
    GITHUB,
    PINTEREST,
)

# Well-known Mastodon servers: a ``/@user`` link there is a fediverse account even without
# ``rel="me"``; on any other host it could be any site that uses ``/@name`` paths.
KNOWN_FEDIVERSE_HOSTS: Final = frozenset(
    {
        "mastodon.social",
        "mastodon.online",
        "mstdn.social",
        "fosstodon.org",
        "hachyderm.io",
        "infosec.exchange",
        "mas.to",
        "mastodon.world",
        "techhub.social",
        "social.vivaldi.net",
        "mastodon.art",
        "chaos.social",
        "troet.cafe",
        "mamot.fr",
        "piaille.fr",
        "framapiaf.org",
        "mastodon.green",
        "toot.community",
        "mastodon.scot",
        "aus.social",
        "universeodon.com",
        "social.coop",
    }
)

_SOCIAL_HOST = re.compile(
    r"(?:^|\.)(?:facebook\.com|fb\.com|fb\.me|instagram\.com|instagr\.am|linkedin\.com|"
    r"twitter\.com|x\.com|tiktok\.com|youtube\.com|threads\.net|threads\.com|bsky\.app|"
    r"github\.com|pinterest\.[a-z.]{2,6})$"
)
# Hosts whose only job is to bounce the browser to the URL in one query parameter.
_REDIRECTORS: Final[Mapping[str, tuple[str, ...]]] = {
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "l.instagram.com": ("u",),
    "www.google.com": ("q", "url"),
    "google.com": ("q", "url"),
    "www.linkedin.com": ("url",),  # /redir/redirect?url=
    "out.reddit.com": ("url",),
    "href.li": (),
}
_URL_IN_TEXT = re.compile(r"https?(?::|%3A)(?:/|%2F){2}[^\s&\"'<>]+", re.IGNORECASE)
_MAX_UNWRAP = 3


def is_social_host(host: str) -> bool:
    """True for the hosts of the networks discovery reads (cheap pre-filter)."""
    return _SOCIAL_HOST.search(host.lower().rstrip(".")) is not None


def canonical_profile(url: str, *, fediverse: bool = False) -> tuple[str, str] | None:
    """``(network, canonical_url)`` of the profile ``url`` points to, or ``None``.

    ``fediverse=True`` also reads ``https://<any host>/@user`` as a Mastodon account; callers
    pass it for links marked ``rel="me"``, the fediverse's own verification convention.
    """
    text = url.strip()
    for _ in range(_MAX_UNWRAP):
        parts = _split(text)
        if parts is None:
            return None
        host, path, query, fragment = parts
        inner = _wrapped_target(host, path, query)
        if inner is None:
            return _profile(host, path, query, fragment, fediverse)
        text = inner
    return None


def _split(text: str) -> tuple[str, str, str, str] | None:
    if not text or len(text) > 2048 or any(c in text for c in "\n\r\t "):
        return None
    lowered = text[:12].lower()
    if lowered.startswith("//"):
        text = "https:" + text
    elif not lowered.startswith(("http://", "https://")):
        if ":" in text.split("/", 1)[0] or "." not in text.split("/", 1)[0]:
            return None  # mailto:, tel:, javascript:, relative paths
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host:
        return None
    return host, parts.path, parts.query, parts.fragment


def _wrapped_target(host: str, path: str, query: str) -> str | None:
    """The URL a redirector, a page plugin or an ``/out?url=`` link leads to, if any."""
    params = parse_qs(query)
    if host in _REDIRECTORS:
        names = _REDIRECTORS[host]
        if host.endswith("linkedin.com") and not path.startswith("/redir"):
            return None
        if host.endswith("google.com") and path != "/url":
            return None
        for name in names:
            if params.get(name):
                return params[name][0]
        return None
    if host.endswith("facebook.com") and path.startswith("/plugins/"):
        target = params.get("href", [""])[0]
        return target or None
    if is_social_host(host):
        return None
    # Any other site: an encoded social URL in the query is where the link really goes.
    for values in params.values():
        for value in values:
            candidate = _decoded_url(value)
            if candidate is not None:
                parts = _split(candidate)
                if parts is not None and is_social_host(parts[0]):
                    return candidate
    match = _URL_IN_TEXT.search(path)
    if match is not None:
        candidate = _decoded_url(match.group(0))
        if candidate is not None and (parts := _split(candidate)) and is_social_host(parts[0]):
            return candidate
    return None


def _decoded_url(value: str) -> str | None:
    for _ in range(2):
        if value.lower().startswith(("http://", "https://", "//")):
            return value
        value = unquote(value)
    return None


# --- per-network reading ----------------------------------------------------------------------


def _profile(
    host: str, path: str, query: str, fragment: str, fediverse: bool
) -> tuple[str, str] | None:
    if fragment.startswith("!/"):  # twitter.com/#!/name, the pre-2012 form
        path, fragment = fragment[1:], ""
    for suffix, reader in _EXTRA_READERS.items():
        if host == suffix or host.endswith("." + suffix):
            return reader(host, _segments(path), parse_qs(query))
    path, query = _rewrite_known_forms(host, path, query)
    if host == "fb.me":
        host = "www.facebook.com"
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    try:
        parsed = parse_handle(url)
    except InvalidHandle:
        return None
    if parsed is None:
        return None
    if parsed.network is Network.MASTODON and not fediverse and host not in KNOWN_FEDIVERSE_HOSTS:
        return None
    return parsed.network.value, canonical_url(parsed)


def _segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/") if s]


def _rewrite_known_forms(host: str, path: str, query: str) -> tuple[str, str]:
    """Turn links that lead to a profile without being its URL into that URL."""
    params = parse_qs(query)
    segments = _segments(path)
    first = segments[0].lower() if segments else ""
    if host.endswith(("twitter.com", "x.com")) and first == "intent" and len(segments) > 1:
        if segments[1] in {"follow", "user"} and params.get("screen_name"):
            return "/" + params["screen_name"][0], ""
        return path, query
    if host.endswith("youtube.com") and first == "subscription_center":
        if params.get("add_user"):
            return "/user/" + params["add_user"][0], ""
        if params.get("add_user_id"):
            return "/channel/" + params["add_user_id"][0], ""
    if host.endswith(("facebook.com", "fb.com")) and first == "pg" and len(segments) > 1:
        return "/" + segments[1], ""
    if host.endswith("fb.me") and segments:
        return "/" + segments[0], ""
    if host.endswith(("instagram.com", "instagr.am")) and first == "_u" and len(segments) > 1:
        return "/" + segments[1], ""
    if host.endswith(("facebook.com", "fb.com")) and first != "profile.php":
        return path, ""  # ?ref=, ?fref=, ?locale=: never part of a page's identity
    return path, query


_GITHUB_USER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}")
_GITHUB_RESERVED = frozenset(
    [
        "about",
        "pricing",
        "features",
        "login",
        "join",
        "signup",
        "sponsors",
        "topics",
        "marketplace",
        "explore",
        "site",
        "security",
        "enterprise",
        "collections",
        "trending",
        "settings",
        "notifications",
        "apps",
        "customer-stories",
        "readme",
        "team",
        "contact",
        "events",
        "github",
        "pulls",
        "issues",
        "search",
        "new",
        "organizations",
        "orgs",
        "codespaces",
        "copilot",
        "blog",
        "resources",
        "solutions",
        "partners",
        "education",
        "premium-support",
        "logout",
        "password_reset",
    ]
)
_PINTEREST_USER = re.compile(r"[a-z0-9_]{3,30}")
_PINTEREST_RESERVED = frozenset(
    [
        "pin",
        "pinit",
        "search",
        "ideas",
        "today",
        "_",
        "business",
        "explore",
        "categories",
        "settings",
        "login",
        "about",
        "resource",
        "videos",
        "shopping",
    ]
)
_THREADS_USER = re.compile(r"[a-z0-9._]{1,30}")


def _github(_host: str, segments: list[str], _q: dict[str, list[str]]) -> tuple[str, str] | None:
    if segments and segments[0].lower() == "orgs" and len(segments) >= 2:
        segments = segments[1:2]
    if len(segments) != 1:
        return None  # a repository, a file or an issue: not the organisation's profile
    name = segments[0].lower()
    if name in _GITHUB_RESERVED or not _GITHUB_USER.fullmatch(name):
        return None
    return GITHUB, f"https://github.com/{name}"


def _pinterest(host: str, segments: list[str], _q: dict[str, list[str]]) -> tuple[str, str] | None:
    if not re.fullmatch(r"(?:[a-z]{2,3}\.|www\.)?pinterest\.[a-z.]{2,6}", host):
        return None
    if not segments or len(segments) > 2:
        return None  # /user/board/ is a board, deeper paths are pins or sections
    name = segments[0].lower()
    if name in _PINTEREST_RESERVED or not _PINTEREST_USER.fullmatch(name):
        return None
    if len(segments) == 2 and segments[1].lower() not in {"_created", "_saved", "pins", "boards"}:
        return None
    return PINTEREST, f"https://www.pinterest.com/{name}"


def _threads(_host: str, segments: list[str], _q: dict[str, list[str]]) -> tuple[str, str] | None:
    if len(segments) != 1 or not segments[0].startswith("@"):
        return None
    name = segments[0][1:].lower()
    if not _THREADS_USER.fullmatch(name) or name.startswith(".") or name.endswith("."):
        return None
    return THREADS, f"https://www.threads.com/@{name}"


_EXTRA_READERS: Final[
    Mapping[str, Callable[[str, list[str], dict[str, list[str]]], tuple[str, str] | None]]
] = {
    "github.com": _github,
    "threads.net": _threads,
    "threads.com": _threads,
    "pinterest.com": _pinterest,
    "pinterest.fr": _pinterest,
    "pinterest.de": _pinterest,
    "pinterest.co.uk": _pinterest,
    "pinterest.ca": _pinterest,
    "pinterest.es": _pinterest,
    "pinterest.it": _pinterest,
    "pinterest.com.au": _pinterest,
    "pinterest.ch": _pinterest,
    "pinterest.at": _pinterest,
    "pinterest.nl": _pinterest,
}


def profile_handle(canonical: str) -> str:
    """The name part of a canonical URL (``acme`` of ``https://x.com/acme``), for matching."""
    parts = urlsplit(canonical)
    if parts.query.startswith("id="):
        return parts.query[3:]
    last = [s for s in parts.path.split("/") if s]
    return unquote(last[-1]).lstrip("@") if last else ""
