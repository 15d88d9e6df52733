"""E-mail addresses (email-validator), websites and social profiles (``providers.handles``) in
a signature line, and how a line splits into its | parts. Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from socialcrm.providers.handles import InvalidHandle, canonical_url, parse_handle
from socialcrm.providers.registry import ALIASES, PROVIDERS
from socialcrm.signatures.fields import MAX_VALUES, Profile, SignatureFields

EMAIL = re.compile(r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-']*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,24}")
URL = re.compile(r"(?:https?://|www\.)[^\s<>()|,;\"'\[\]{}]+", re.IGNORECASE)
BARE_DOMAIN = re.compile(
    r"(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,12}(?:/[^\s<>()|,;]*)?"
    r"(?![\w@\-])",
    re.IGNORECASE,
)
WEB_LABEL = re.compile(r"^\s*(web|website|site|internet|homepage|url|w|www)\s*[:.]", re.I)
# A label naming a network ("Twitter: @ada", "IG - ada"): its names and aliases (the adapters').
LABEL_NETWORK = {name: name for name in PROVIDERS} | dict(ALIASES)
SOCIAL_LABEL = re.compile(
    r"(?<![\w])(?P<label>"
    + "|".join(sorted(map(re.escape, LABEL_NETWORK), key=len, reverse=True))
    + r")\s*[:\-]\s*(?P<value>\S+)",
    re.IGNORECASE,
)
FEDI_HANDLE = re.compile(r"(?<![\w@])@[a-z0-9_]{1,30}@[a-z0-9.\-]+\.[a-z]{2,}", re.IGNORECASE)
BSKY_HANDLE = re.compile(r"(?<![\w@])@[a-z0-9.\-]+\.bsky\.social\b", re.IGNORECASE)
_SOCIAL_HOSTS = (
    "x.com",
    "twitter.com",
    "linkedin.com",
    "facebook.com",
    "fb.com",
    "instagram.com",
    "tiktok.com",
    "youtube.com",
    "bsky.app",
    "youtu.be",
    "t.co",
)
SEPARATORS = re.compile(r"\s*(?:\||•|·|\u2022|\t|\s{3,}|\s[\u2013\u2014]\s)\s*")
_LEADING_LABEL = re.compile(r"^[^\w]*(?:[\w.\- ]{1,20}:\s*)?")


def standalone_parts(line: str) -> set[str]:
    """The | parts of a line without their icon or short ``Label:`` (split once per line)."""
    return {_LEADING_LABEL.sub("", p).strip() for p in SEPARATORS.split(line)}


def is_standalone(parts: set[str], value: str) -> bool:
    """A bare domain counts when the line, or one of its | parts, is nothing else."""
    if value[0].isdigit() or "." not in value:
        return False
    return value.strip() in parts


def valid_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return ""
    return str(result.normalized).lower()


def add_url(fields: SignatureFields, text: str) -> bool:
    url = text.rstrip(".,;:!?)]}>'\"")
    if not url or len(url) > 300:
        return False
    profile = parse_profile(url, None)
    if profile is not None:
        add_profile(fields, profile)
        return True
    website = normalise_website(url)
    if not website:
        return False
    host = urlsplit(website).hostname or ""
    if any(host == h or host.endswith("." + h) for h in _SOCIAL_HOSTS):
        return True  # a post or share link: contact-ish, but not a website or profile
    if website not in fields.websites and len(fields.websites) < MAX_VALUES:
        fields.websites.append(website)
    return True


def normalise_website(text: str) -> str:
    """``https://host/path`` with the host lower-cased and no trailing slash; '' if not a URL."""
    value = text.strip()
    if not value.lower().startswith(("http://", "https://")):
        value = "https://" + value
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if "." not in host or not re.fullmatch(r"[a-z0-9.\-]+", host):
        return ""
    tld = host.rpartition(".")[2]
    if not tld.isalpha() or len(tld) < 2:
        return ""
    path = parts.path.rstrip("/")
    scheme = parts.scheme.lower()
    return f"{scheme}://{host}{path}" + (f"?{parts.query}" if parts.query else "")


def website_key(url: str) -> str:
    """What makes two website values the same: no scheme, no ``www.``, no trailing slash."""
    value = url.strip().lower()
    value = re.sub(r"^https?://", "", value).removeprefix("www.")
    return value.rstrip("/")


def parse_profile(text: str, network: str | None) -> Profile | None:
    value = text.strip().rstrip(".,;:)")
    if network == "mastodon" and value.count("@") == 1 and not value.startswith("@"):
        value = "@" + value
    try:
        parsed = parse_handle(value, network)
    except InvalidHandle:
        return None
    if parsed is None:
        return None
    handle = parsed.handle
    if parsed.instance:
        handle = f"{parsed.handle}@{parsed.instance}"
    if parsed.kind and parsed.network.value == "linkedin" and parsed.kind != "in":
        handle = f"{parsed.kind}/{parsed.handle}"
    return Profile(network=parsed.network.value, handle=handle, url=canonical_url(parsed))


def add_profile(fields: SignatureFields, profile: Profile) -> None:
    if all(p.url != profile.url for p in fields.profiles) and len(fields.profiles) < MAX_VALUES:
        fields.profiles.append(profile)
