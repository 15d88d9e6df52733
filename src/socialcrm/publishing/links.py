"""Links in posts: UTM tagging and the service's own short redirect that counts click-throughs."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twitter_text import extract_urls_with_indices  # type: ignore[import-untyped]

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Utm:
    source: str
    medium: str = "social"
    campaign: str = ""
    content: str = ""

    def params(self) -> dict[str, str]:
        values = {
            "utm_source": self.source,
            "utm_medium": self.medium,
            "utm_campaign": self.campaign,
            "utm_content": self.content,
        }
        return {k: v for k, v in values.items() if v}


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """http(s) URLs in the text with their code point spans, in order."""
    found = extract_urls_with_indices(text, extract_urls_without_protocol=False)
    spans = [(int(u["indices"][0]), int(u["indices"][1]), str(u["url"])) for u in found]
    return sorted(spans)


def tag(url: str, utm: Utm) -> str:
    """The URL with UTM parameters set (existing utm_* values are replaced)."""
    parts = urlsplit(url)
    params = utm.params()
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def rewrite(text: str, replace: Callable[[str], str]) -> str:
    """The text with every http(s) URL replaced by ``replace(url)``."""
    out: list[str] = []
    cursor = 0
    for start, end, url in find_urls(text):
        out.append(text[cursor:start])
        out.append(replace(url))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
