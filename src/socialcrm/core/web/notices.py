"""Banners carried across a redirect (POST, then redirect, then GET) in the address, signed.

A page shows ``?notice=`` (or ``?error=``) only with the signature the server made when it
redirected there, so a link someone else wrote cannot put words of its own in a banner ("Your
account is locked: call +1 …"). Fixed messages chosen by a code (``?done=saved``) need none.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from fastapi import Request

from socialcrm.core.settings import get_settings

MAX_NOTICE = 300


def _signature(name: str, text: str) -> str:
    key = hashlib.sha256(b"socialcrm-notice:" + get_settings().secret_keys[0].encode()).digest()
    return hmac.new(key, f"{name}\0{text}".encode(), hashlib.sha256).hexdigest()[:32]


def with_notice(path: str, text: str, *, name: str = "notice") -> str:
    """``path`` with the banner ``text`` (as ``name``) and its signature added to the query."""
    text = text[:MAX_NOTICE]
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}{name}={quote(text)}&{name}_sig={_signature(name, text)}"


def shown(request: Request, name: str = "notice") -> str:
    """The banner the address carries, if this server signed it; else nothing."""
    text = request.query_params.get(name, "")[:MAX_NOTICE]
    signature = request.query_params.get(f"{name}_sig", "")
    if text and hmac.compare_digest(signature.encode(), _signature(name, text).encode()):
        return text
    return ""
