"""PKCE (RFC 7636), S256 only: the sandbox refuses ``plain`` like a careful server should.

TikTok's Login Kit names its method S256 but wants the *hex* SHA-256 digest of the verifier
(64 characters) instead of RFC 7636's base64url (43); ``hex_challenge`` is that form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
_HEX_CHALLENGE = re.compile(r"^[0-9a-f]{64}$")


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hex_challenge(verifier: str) -> str:
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def is_valid_challenge(challenge: str) -> bool:
    return bool(_CHALLENGE.fullmatch(challenge))


def is_hex_challenge(challenge: str) -> bool:
    return bool(_HEX_CHALLENGE.fullmatch(challenge))


def verifier_matches(verifier: str, challenge: str) -> bool:
    """An empty challenge: the authorization used no PKCE (where the network allows that)."""
    if not challenge:
        return True
    if not _VERIFIER.fullmatch(verifier):
        return False
    expected = hex_challenge(verifier) if is_hex_challenge(challenge) else s256_challenge(verifier)
    return hmac.compare_digest(expected, challenge)
