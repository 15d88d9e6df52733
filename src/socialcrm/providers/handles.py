"""Parse any handle or profile URL of the networks we know into one canonical form.

Pure: no I/O. ``parse_handle`` answers ``None`` for URLs that are not a profile (posts, share
dialogs, searches, unknown sites) and raises ``InvalidHandle`` for input that looks like a
profile but cannot be one (bad characters, too long, reserved word, unknown network).
Profile *tabs* (``/media``, ``/photos``, ``/about`` …) are stripped; single pieces of content
(``/status/1``, ``/posts/1``, ``/p/CODE``, ``/video/1``) are not profiles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, quote, unquote, urlsplit


class Network(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    LINKEDIN = "linkedin"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"


class InvalidHandle(ValueError):
    """The text cannot be a handle (or profile URL) of the network."""


@dataclass(frozen=True, slots=True)
class ParsedHandle:
    """One profile, normalised.

    ``kind``: LinkedIn ``in|company|school|showcase``; YouTube ``handle|channel|c|user``;
    Bluesky ``handle|did``; Facebook ``page|id``; ``None`` where a network has one kind.
    ``user_id``: the network's stable id when the input carried it (Facebook id, YouTube
    channel id, Bluesky DID). ``instance``: the Mastodon server's host.
    """

    network: Network
    handle: str
    kind: str | None = None
    user_id: str | None = None
    instance: str | None = None


# --- character sets and reserved words -------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_X_HANDLE = re.compile(r"[a-z0-9_]{1,15}")
_MASTODON_USER = re.compile(r"[a-z0-9_]{1,30}")
_INSTAGRAM_USER = re.compile(r"(?!\.)(?!.*\.\.)[a-z0-9._]{1,30}(?<!\.)")
_TIKTOK_USER = re.compile(r"[a-z0-9_.]{2,24}(?<!\.)")
_FACEBOOK_PAGE = re.compile(r"(?=.*[a-z])[a-z0-9.\-]{2,50}")
_FACEBOOK_ID = re.compile(r"[0-9]{1,20}")
_LINKEDIN_SLUG = re.compile(r"[\w\-]{2,100}")
_YOUTUBE_HANDLE = re.compile(r"[a-z0-9._\-]{3,30}")
_YOUTUBE_NAME = re.compile(r"[a-z0-9._\-]{1,100}")
_YOUTUBE_CHANNEL = re.compile(r"UC[A-Za-z0-9_\-]{22}")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"[a-z](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_DID_PLC = re.compile(r"did:plc:[a-z2-7]{24}")

_X_RESERVED = _words(
    "home explore search hashtag i intent share settings messages notifications compose login "
    "logout signup tos privacy about download jobs account following followers lists "
    "communities premium verified-choose oauth"
)
_X_TABS = _words(
    "with_replies media likes highlights articles followers following verified_followers "
    "followers_you_follow lists communities superfollows affiliates"
)
_MASTODON_TABS = _words("with_replies media followers following tagged")
_BLUESKY_TABS = _words("follows followers known-followers media likes replies")
_FACEBOOK_RESERVED = _words(
    "sharer share dialog plugins groups events hashtag search watch marketplace login help "
    "policies photo permalink story video l messages notifications settings gaming business "
    "ads privacy legal reel reels stories friends bookmarks saved media people pages "
    "pg tr recover checkpoint fundraisers live"
)
_FACEBOOK_TABS = _words(
    "about photos videos posts events reviews community followers following friends mentions "
    "reels live_videos photos_by map likes services shop"
)
_INSTAGRAM_RESERVED = _words(
    "p reel reels tv explore stories accounts direct about legal developer web challenge s ar "
    "emails session privacy"
)
_INSTAGRAM_TABS = _words("tagged reels saved guides feed channel")
_LINKEDIN_KINDS = frozenset({"in", "company", "school", "showcase"})
_LINKEDIN_TABS = _words(
    "about jobs people posts life insights videos events details recent-activity overlay "
    "mycompany products"
)
# Top-level YouTube paths that are pages of YouTube itself (feeds, products, help), so that a
# legacy custom URL (``youtube.com/name``) is never read from one of them.
_YOUTUBE_RESERVED = _words(
    "watch results feed playlist shorts embed channel c user t hashtag premium gaming account "
    "redirect attribution_link live kids about signin logout upload howyoutubeworks "
    "creators ads t.co new trending music musicpremium news sports learning fashion movies "
    "podcasts storefront channels destination paid_memberships reporthistory jobs "
    "supported_browsers verify_age create_channel account_notifications subscription_manager "
    "view_all_playlists watch_videos live_chat post source select_site studio youtubei api "
    "oembed iframe_api error index s v e yt copyright profile"
)
_YOUTUBE_TABS = _words(
    "videos featured about shorts streams playlists community live channels releases podcasts store"
)
_LOCALE = re.compile(r"[a-z]{2}(?:[-_][a-z]{2})?")

# Hosts whose ``/@user`` paths are not Mastodon accounts.
_NOT_FEDIVERSE = frozenset(
    {"medium.com", "threads.net", "threads.com", "tiktok.com", "youtube.com", "x.com"}
)


# --- making and validating one handle ---------------------------------------------------------


def make_handle(
    network: str,
    handle: str,
    *,
    kind: str | None = None,
    instance: str | None = None,
) -> ParsedHandle:
    """Validate and normalise one handle of ``network`` (``@`` stripped, case folded)."""
    net = _network(network)
    return _MAKERS[net](handle.strip(), kind, instance)


def _network(name: str) -> Network:
    try:
        return Network(name.strip().lower())
    except ValueError:
        known = ", ".join(n.value for n in Network)
        raise InvalidHandle(f"unknown network {name!r} (known: {known})") from None


def _require(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidHandle(f"{what}: {value!r}")
    return value


def _make_x(handle: str, _kind: str | None, _instance: str | None) -> ParsedHandle:
    name = handle.removeprefix("@").lower()
    _require(_X_HANDLE, name, "an X handle is 1-15 letters, digits or underscores")
    if name in _X_RESERVED:
        raise InvalidHandle(f"{name!r} is a reserved X path, not a handle")
    return ParsedHandle(Network.X, name)


def _make_mastodon(handle: str, _kind: str | None, instance: str | None) -> ParsedHandle:
    user, _, host = handle.removeprefix("@").partition("@")
    host = (host or instance or "").lower().rstrip(".")
    if not host:
        raise InvalidHandle(f"a Mastodon handle needs its instance (user@instance): {handle!r}")
    if not _is_domain(host) or _known_host(host) is not None or host in _NOT_FEDIVERSE:
        raise InvalidHandle(f"not a Mastodon instance host: {host!r}")
    name = user.lower()
    _require(_MASTODON_USER, name, "a Mastodon username is 1-30 letters, digits or underscores")
    return ParsedHandle(Network.MASTODON, name, instance=host)


def _make_bluesky(handle: str, _kind: str | None, _instance: str | None) -> ParsedHandle:
    actor = handle.removeprefix("@").lower().rstrip(".")
    if actor.startswith("did:"):
        return ParsedHandle(Network.BLUESKY, _did(actor), kind="did", user_id=_did(actor))
    if not _is_domain(actor):
        raise InvalidHandle(f"a Bluesky handle is a domain name (ada.bsky.social): {handle!r}")
    return ParsedHandle(Network.BLUESKY, actor, kind="handle")


def _did(value: str) -> str:
    if _DID_PLC.fullmatch(value):
        return value
    if value.startswith("did:web:") and _is_domain(value.removeprefix("did:web:")):
        return value
    raise InvalidHandle(f"not a did:plc or did:web identifier: {value!r}")


def _make_facebook(handle: str, kind: str | None, _instance: str | None) -> ParsedHandle:
    name = handle.removeprefix("@").lower()
    if kind == "id" or (kind is None and name.isdigit()):
        _require(_FACEBOOK_ID, name, "a Facebook id is digits")
        return ParsedHandle(Network.FACEBOOK, name, kind="id", user_id=name)
    _require(_FACEBOOK_PAGE, name, "a Facebook page name is 2-50 letters, digits, '.' or '-'")
    if name in _FACEBOOK_RESERVED or name.endswith(".php"):
        raise InvalidHandle(f"{name!r} is a reserved Facebook path, not a page")
    return ParsedHandle(Network.FACEBOOK, name, kind="page")


def _make_instagram(handle: str, _kind: str | None, _instance: str | None) -> ParsedHandle:
    name = handle.removeprefix("@").lower()
    _require(
        _INSTAGRAM_USER,
        name,
        "an Instagram username is 1-30 of a-z 0-9 . _ (no leading, trailing or double '.')",
    )
    if name in _INSTAGRAM_RESERVED:
        raise InvalidHandle(f"{name!r} is a reserved Instagram path, not a username")
    return ParsedHandle(Network.INSTAGRAM, name)


def _make_linkedin(handle: str, kind: str | None, _instance: str | None) -> ParsedHandle:
    text = handle.strip("/")
    if kind is None and "/" in text:
        kind, _, text = text.partition("/")
    kind = (kind or "in").lower()
    if kind not in _LINKEDIN_KINDS:
        raise InvalidHandle(f"LinkedIn kind must be one of in/company/school/showcase: {kind!r}")
    slug = unquote(text).lower()
    _require(_LINKEDIN_SLUG, slug, "a LinkedIn slug is 2-100 letters, digits or '-'")
    return ParsedHandle(Network.LINKEDIN, slug, kind=kind)


def _make_tiktok(handle: str, _kind: str | None, _instance: str | None) -> ParsedHandle:
    name = handle.removeprefix("@").lower()
    _require(_TIKTOK_USER, name, "a TikTok username is 2-24 of a-z 0-9 _ . (not ending in '.')")
    return ParsedHandle(Network.TIKTOK, name)


def _make_youtube(handle: str, kind: str | None, _instance: str | None) -> ParsedHandle:
    if kind is None:
        kind = "channel" if _YOUTUBE_CHANNEL.fullmatch(handle) else "handle"
    if kind == "channel":
        _require(_YOUTUBE_CHANNEL, handle, "a YouTube channel id is UC + 22 characters")
        return ParsedHandle(Network.YOUTUBE, handle, kind="channel", user_id=handle)
    name = handle.removeprefix("@").lower() if kind == "handle" else handle.lower()
    if kind == "handle":
        _require(_YOUTUBE_HANDLE, name, "a YouTube handle is 3-30 of a-z 0-9 . _ -")
    elif kind in {"c", "user"}:
        _require(_YOUTUBE_NAME, name, "a YouTube custom name is 1-100 of a-z 0-9 . _ -")
    else:
        raise InvalidHandle(f"YouTube kind must be handle/channel/c/user: {kind!r}")
    return ParsedHandle(Network.YOUTUBE, name, kind=kind)


_MAKERS: Mapping[Network, Callable[[str, str | None, str | None], ParsedHandle]] = {
    Network.X: _make_x,
    Network.MASTODON: _make_mastodon,
    Network.BLUESKY: _make_bluesky,
    Network.FACEBOOK: _make_facebook,
    Network.INSTAGRAM: _make_instagram,
    Network.LINKEDIN: _make_linkedin,
    Network.TIKTOK: _make_tiktok,
    Network.YOUTUBE: _make_youtube,
}


def _is_domain(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2:
        return False
    return all(_DOMAIN_LABEL.fullmatch(label) for label in labels[:-1]) and bool(
        _TLD.fullmatch(labels[-1])
    )


# --- canonical URLs ---------------------------------------------------------------------------


def canonical_url(parsed: ParsedHandle) -> str:
    """The one profile URL we store for ``parsed``."""
    h = parsed.handle
    match parsed.network:
        case Network.X:
            return f"https://x.com/{h}"
        case Network.MASTODON:
            return f"https://{parsed.instance}/@{h}"
        case Network.BLUESKY:
            return f"https://bsky.app/profile/{h}"
        case Network.FACEBOOK if parsed.kind == "id":
            return f"https://www.facebook.com/profile.php?id={h}"
        case Network.FACEBOOK:
            return f"https://www.facebook.com/{h}"
        case Network.INSTAGRAM:
            return f"https://www.instagram.com/{h}"
        case Network.LINKEDIN:
            return f"https://www.linkedin.com/{parsed.kind}/{quote(h, safe='-_')}"
        case Network.TIKTOK:
            return f"https://www.tiktok.com/@{h}"
        case Network.YOUTUBE if parsed.kind == "handle":
            return f"https://www.youtube.com/@{h}"
        case Network.YOUTUBE:
            return f"https://www.youtube.com/{parsed.kind}/{h}"
    raise InvalidHandle(f"no canonical URL for {parsed!r}")  # pragma: no cover


def canonical_profile_url(text: str, network: str | None = None) -> str | None:
    """Shortcut: ``canonical_url(parse_handle(text, network))`` or ``None``."""
    parsed = parse_handle(text, network)
    return canonical_url(parsed) if parsed else None


# --- parsing ----------------------------------------------------------------------------------


def parse_handle(text: str, network: str | None = None) -> ParsedHandle | None:
    """Parse a handle (``@ada``, ``ada@mastodon.social``, ``did:plc:…``) or a profile URL.

    ``network`` tells how to read a bare handle and must agree with a URL's network. Bare
    handles without ``network`` are accepted only where unambiguous (``@user@instance``,
    ``did:…``, ``*.bsky.social``).
    """
    value = text.strip()
    if not value:
        raise InvalidHandle("empty handle")
    hint = _network(network) if network is not None else None
    if _looks_like_url(value):
        parsed = _parse_url(value, hint)
        if parsed is None or (hint is not None and parsed.network != hint):
            return None
        return parsed
    if hint is None:
        hint = _guess_network(value)
    return _MAKERS[hint](value, None, None)


_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")


def _looks_like_url(value: str) -> bool:
    """A URI scheme other than ``did:``, or a host-like first segment (``x.com/ada``);
    ``company/acme`` is a (LinkedIn) handle."""
    scheme = _SCHEME.match(value.lower())
    if scheme is not None and scheme.group(1) != "did":
        return True
    return value.startswith("//") or ("/" in value and "." in value.partition("/")[0])


def _guess_network(value: str) -> Network:
    bare = value.removeprefix("@").lower()
    if bare.startswith("did:") or bare.endswith(".bsky.social"):
        return Network.BLUESKY
    if value.startswith("@") and "@" in bare:
        return Network.MASTODON
    raise InvalidHandle(f"cannot tell which network {value!r} belongs to; pass network=")


_KNOWN_HOSTS: Mapping[str, tuple[Network, re.Pattern[str]]] = {
    "x.com": (Network.X, re.compile(r"(www|mobile|m)?")),
    "twitter.com": (Network.X, re.compile(r"(www|mobile|m)?")),
    "bsky.app": (Network.BLUESKY, re.compile(r"(www)?")),
    "facebook.com": (
        Network.FACEBOOK,
        re.compile(r"(www|m|web|mbasic|touch|mobile|business|[a-z]{2}-[a-z]{2})?"),
    ),
    "fb.com": (Network.FACEBOOK, re.compile(r"(www|m|web)?")),
    "instagram.com": (Network.INSTAGRAM, re.compile(r"(www|m)?")),
    "instagr.am": (Network.INSTAGRAM, re.compile(r"(www)?")),
    "linkedin.com": (Network.LINKEDIN, re.compile(r"(www|m|mobile|[a-z]{2})?")),
    "tiktok.com": (Network.TIKTOK, re.compile(r"(www|m)?")),
    "youtube.com": (Network.YOUTUBE, re.compile(r"(www|m)?")),
}


def _known_host(host: str) -> Network | None:
    for domain, (net, subdomains) in _KNOWN_HOSTS.items():
        if host == domain:
            return net
        if host.endswith("." + domain) and subdomains.fullmatch(host[: -len(domain) - 1]):
            return net
    return None


def _parse_url(value: str, hint: Network | None) -> ParsedHandle | None:
    if "://" not in value:
        value = "https://" + value.removeprefix("//")
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"}:
        return None
    host = (parts.hostname or "").rstrip(".")
    segments = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)
    net = _known_host(host)
    if net is None:
        if not _is_domain(host):
            return None
        return _mastodon_url(host, segments, hint)
    return _URL_PARSERS[net](segments, query)


def _tab_or_nothing(rest: list[str], tabs: frozenset[str]) -> bool:
    """True when ``rest`` (path after the handle) is empty or one known profile tab."""
    return not rest or (len(rest) == 1 and rest[0].lower() in tabs)


def _x_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if not segments or segments[0].lower().removeprefix("@") in _X_RESERVED:
        return None
    if not _tab_or_nothing(segments[1:], _X_TABS):
        return None
    return _make_x(segments[0], None, None)


def _mastodon_url(host: str, segments: list[str], hint: Network | None) -> ParsedHandle | None:
    if host in _NOT_FEDIVERSE or len(segments) < 1:
        return None
    first = segments[0]
    if first.startswith("@") and len(first) > 1:
        rest = segments[1:]
        if not _tab_or_nothing(rest, _MASTODON_TABS):
            return None
        return _make_mastodon(first, None, host)
    if hint is Network.MASTODON and first == "users" and len(segments) == 2:
        return _make_mastodon(segments[1], None, host)
    return None


def _bluesky_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if len(segments) < 2 or segments[0] != "profile":
        return None
    if not _tab_or_nothing(segments[2:], _BLUESKY_TABS):
        return None
    return _make_bluesky(unquote(segments[1]), None, None)


def _facebook_url(segments: list[str], query: dict[str, list[str]]) -> ParsedHandle | None:
    if not segments:
        return None
    first = segments[0].lower()
    if first == "profile.php":
        ids = query.get("id", [])
        return _make_facebook(ids[0], "id", None) if ids and ids[0].isdigit() else None
    if first in {"people", "pages"} and len(segments) >= 3 and segments[2].isdigit():
        return _make_facebook(segments[2], "id", None)
    if first in _FACEBOOK_RESERVED or first.endswith(".php"):
        return None
    if not _tab_or_nothing(segments[1:], _FACEBOOK_TABS):
        return None
    return _make_facebook(segments[0], None, None)


def _instagram_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if not segments or segments[0].lower() in _INSTAGRAM_RESERVED:
        return None
    if not _tab_or_nothing(segments[1:], _INSTAGRAM_TABS):
        return None
    return _make_instagram(segments[0], None, None)


def _linkedin_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if len(segments) < 2 or segments[0].lower() not in _LINKEDIN_KINDS:
        return None
    rest = [s.lower() for s in segments[2:]]
    locale_only = len(rest) == 1 and _LOCALE.fullmatch(rest[0]) is not None
    if rest and not locale_only and rest[0] not in _LINKEDIN_TABS:
        return None
    return _make_linkedin(segments[1], segments[0], None)


def _tiktok_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if len(segments) != 1 or not segments[0].startswith("@"):
        return None
    return _make_tiktok(segments[0], None, None)


def _youtube_url(segments: list[str], _query: dict[str, list[str]]) -> ParsedHandle | None:
    if not segments:
        return None
    first = segments[0]
    if first.startswith("@"):
        kind, name, rest = "handle", first, segments[1:]
    elif first in {"channel", "c", "user"} and len(segments) >= 2:
        kind, name, rest = first, segments[1], segments[2:]
    elif first.lower() in _YOUTUBE_RESERVED:
        return None
    else:  # legacy custom URL (youtube.com/name) is the same channel as /c/name
        kind, name, rest = "c", first, segments[1:]
    if not _tab_or_nothing(rest, _YOUTUBE_TABS):
        return None
    return _make_youtube(unquote(name), kind, None)


_URL_PARSERS: Mapping[Network, Callable[[list[str], dict[str, list[str]]], ParsedHandle | None]] = {
    Network.X: _x_url,
    Network.BLUESKY: _bluesky_url,
    Network.FACEBOOK: _facebook_url,
    Network.INSTAGRAM: _instagram_url,
    Network.LINKEDIN: _linkedin_url,
    Network.TIKTOK: _tiktok_url,
    Network.YOUTUBE: _youtube_url,
}
