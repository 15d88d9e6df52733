"""OAuth clients, authorization codes, access/refresh tokens and Bluesky sessions.

Tokens are opaque random strings (Bluesky's are JWT-shaped, as clients may read ``exp``);
the sandbox only ever looks them up, it never trusts their content.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field, replace
from typing import Literal

from socialcrm_sandbox.pkce import verifier_matches
from socialcrm_sandbox.schema import AppSpec, Network
from socialcrm_sandbox.times import Clock

TokenKind = Literal["access", "refresh"]
TokenStatus = Literal["active", "expired", "revoked"]

CODE_TTL_S = 600.0  # Mastodon (Doorkeeper), Google, Meta: ten minutes
# X's authorization codes are valid for 30 seconds (X's OAuth 2.0 docs: "Authorization code").
CODE_TTL_BY_NETWORK: dict[Network, float] = {"x": 30.0}
DEFAULT_ACCESS_TTL_S = 7200.0
BLUESKY_REFRESH_TTL_S = 90 * 24 * 3600.0
# Networks whose access tokens expire, and the scope that asks for a refresh token.
# (Mastodon tokens never expire and come without refresh tokens.)
OFFLINE_SCOPES: dict[Network, str] = {"x": "offline.access"}
# Networks that always issue a refresh token with an expiring access token (LinkedIn's
# partner programme, Google with access_type=offline as our adapter asks, TikTok), and those
# whose tokens expire without any refresh token (Meta's long-lived tokens: 60 days).
ALWAYS_REFRESH: frozenset[Network] = frozenset({"linkedin", "youtube", "tiktok"})
EXPIRING: frozenset[Network] = (
    frozenset(OFFLINE_SCOPES) | ALWAYS_REFRESH | frozenset({"facebook", "instagram"})
)


class GrantError(Exception):
    """An OAuth error answer: ``error`` is the RFC 6749 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class App:
    network: Network
    id: str
    name: str
    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...] | None  # None: any scope may be requested
    audited: bool = False  # TikTok's content-posting audit


@dataclass
class AuthCode:
    value: str
    network: Network
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    challenge: str
    account_id: str
    expires_at: float
    grant_id: str
    used: bool = False


@dataclass
class Token:
    value: str
    network: Network
    kind: TokenKind
    account_id: str
    client_id: str | None
    scope: tuple[str, ...]
    grant_id: str
    issued_at: float
    expires_at: float | None
    revoked: bool = False
    privileged: bool = True  # a Bluesky app password with access to direct messages

    def status(self, now: float) -> TokenStatus:
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class Issued:
    access: Token
    refresh: Token | None


@dataclass
class _Store:
    apps: dict[tuple[Network, str], App] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)


def scope_covers(granted: tuple[str, ...], wanted: str) -> bool:
    """Mastodon-style hierarchy: ``read`` covers ``read:accounts``, ``admin:read`` covers
    ``admin:read:accounts``."""
    return any(wanted == g or wanted.startswith(g + ":") for g in granted)


def app_from_spec(spec: AppSpec) -> App:
    return App(
        network=spec.network,
        id=spec.client_id,
        name=spec.name or f"{spec.network} app {spec.client_id}",
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        redirect_uris=tuple(spec.redirect_uris),
        scopes=tuple(spec.scopes) if spec.scopes is not None else None,
        audited=spec.audited,
    )


def jwt_shaped(claims: dict[str, object]) -> str:
    """A token that looks like a JWT (decodable claims) with a random signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
    body = part(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{body}.{part(secrets.token_bytes(48))}"


class Grants:
    """Every credential the sandbox has handed out; public methods take the shared lock."""

    def __init__(self, apps: list[AppSpec], lock: threading.Lock, clock: Clock) -> None:
        self._lock = lock
        self._clock = clock
        self._store = _Store()
        self.access_ttl_s = DEFAULT_ACCESS_TTL_S
        self.load(apps)

    def load(self, apps: list[AppSpec]) -> None:
        store = _Store(apps={(a.network, a.client_id): app_from_spec(a) for a in apps})
        with self._lock:
            self._store = store
            self.access_ttl_s = DEFAULT_ACCESS_TTL_S

    def set_access_ttl(self, seconds: float) -> None:
        with self._lock:
            self.access_ttl_s = seconds

    # -- clients -------------------------------------------------------------------------

    def register_app(
        self,
        network: Network,
        redirect_uris: list[str],
        *,
        name: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: list[str] | None = None,
        audited: bool = False,
    ) -> App:
        app_id = str(secrets.randbelow(10**8))
        app = App(
            network=network,
            id=app_id,
            name=name or f"{network} app {app_id}",
            client_id=client_id or secrets.token_urlsafe(32),
            client_secret=client_secret or secrets.token_urlsafe(32),
            redirect_uris=tuple(redirect_uris),
            scopes=tuple(scopes) if scopes is not None else None,
            audited=audited,
        )
        with self._lock:
            self._store.apps[(network, app.client_id)] = app
        return app

    def app(self, network: Network, client_id: str) -> App | None:
        with self._lock:
            return self._store.apps.get((network, client_id))

    def authenticate(self, network: Network, client_id: str, secret: str | None) -> App:
        """The client, if its secret matches (public clients, without a secret, need none)."""
        app = self.app(network, client_id)
        if app is None or (
            app.client_secret is not None
            and not secrets.compare_digest(app.client_secret, secret or "")
        ):
            raise GrantError("invalid_client", "Client authentication failed.")
        return app

    # -- authorization codes -------------------------------------------------------------

    def issue_code(
        self, app: App, redirect_uri: str, scope: tuple[str, ...], challenge: str, account_id: str
    ) -> str:
        code = AuthCode(
            value=secrets.token_urlsafe(32),
            network=app.network,
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            challenge=challenge,
            account_id=account_id,
            expires_at=self._clock() + CODE_TTL_BY_NETWORK.get(app.network, CODE_TTL_S),
            grant_id=secrets.token_hex(8),
        )
        with self._lock:
            self._store.codes[code.value] = code
        return code.value

    def exchange_code(self, app: App, code_value: str, redirect_uri: str, verifier: str) -> Issued:
        """Trade a code for tokens; a replayed code revokes what it issued (RFC 6749 §4.1.2)."""
        with self._lock:
            code = self._store.codes.get(code_value)
            if code is None or code.network != app.network or code.client_id != app.client_id:
                raise GrantError("invalid_grant", "Unknown authorization code.")
            if code.used:
                self._revoke_grant(code.grant_id)
                raise GrantError("invalid_grant", "Authorization code was already used.")
            if self._clock() >= code.expires_at:
                raise GrantError("invalid_grant", "Authorization code expired.")
            if redirect_uri != code.redirect_uri:
                raise GrantError("invalid_grant", "redirect_uri does not match the authorization.")
            if code.challenge and not verifier_matches(verifier, code.challenge):
                raise GrantError("invalid_grant", "code_verifier does not match code_challenge.")
            code.used = True
            refresh_scope = OFFLINE_SCOPES.get(app.network)
            with_refresh = app.network in ALWAYS_REFRESH or (
                refresh_scope is not None and refresh_scope in code.scope
            )
            expiring = app.network in EXPIRING
            return self._issue(code, app.client_id, with_refresh=with_refresh, expiring=expiring)

    def refresh(self, app: App, refresh_value: str, *, rotate: bool = True) -> Issued:
        """Rotate: a new access and refresh token; the presented refresh token dies at once.

        Without ``rotate`` (Google) only a new access token; the refresh token lives on.
        """
        with self._lock:
            old = self._store.tokens.get(refresh_value)
            if (
                old is None
                or old.kind != "refresh"
                or old.client_id != app.client_id
                or old.status(self._clock()) != "active"
            ):
                raise GrantError("invalid_grant", "Invalid refresh token.")
            if not rotate:
                return self._issue(old, app.client_id, with_refresh=False, expiring=True)
            old.revoked = True
            return self._issue(old, app.client_id, with_refresh=True, expiring=True)

    def derive(
        self, network: Network, value: str, *, account_id: str | None = None, ttl: float | None
    ) -> Token | None:
        """A new access token of the same grant as the active token ``value``: Meta's
        long-lived token (``ttl`` 60 days) or a Page token (``account_id`` the Page's; no
        ``ttl``: it does not expire). None for an unknown or dead token."""
        with self._lock:
            old = self._store.tokens.get(value)
            if (
                old is None
                or old.network != network
                or old.kind != "access"
                or old.status(self._clock()) != "active"
            ):
                return None
            now = self._clock()
            made = replace(
                old,
                value=secrets.token_urlsafe(48),
                account_id=account_id or old.account_id,
                issued_at=now,
                expires_at=None if ttl is None else now + ttl,
            )
            self._store.tokens[made.value] = made
            return replace(made)

    # -- Bluesky sessions ----------------------------------------------------------------

    def create_session(self, account_id: str, *, privileged: bool = True) -> Issued:
        """An app-password session; ``privileged``: the password may read and send DMs."""
        with self._lock:
            return self._session(account_id, secrets.token_hex(8), privileged)

    def refresh_session(self, refresh_value: str) -> Issued | TokenStatus | None:
        """New session tokens, or why the refresh token cannot be used (None: unknown)."""
        with self._lock:
            old = self._store.tokens.get(refresh_value)
            if old is None or old.network != "bluesky" or old.kind != "refresh":
                return None
            status = old.status(self._clock())
            if status != "active":
                return status
            old.revoked = True
            return self._session(old.account_id, old.grant_id, old.privileged)

    # -- using and revoking tokens -------------------------------------------------------

    def lookup(self, network: Network, value: str, kind: TokenKind) -> Token | None:
        with self._lock:
            token = self._store.tokens.get(value)
            if token is None or token.network != network or token.kind != kind:
                return None
            return replace(token)

    def now(self) -> float:
        return self._clock()

    def revoke(self, network: Network, value: str, client_id: str | None) -> bool:
        """Revoke the token and everything issued with it (RFC 7009). False if not ours."""
        with self._lock:
            token = self._store.tokens.get(value)
            if token is None or token.network != network or token.client_id != client_id:
                return False
            self._revoke_grant(token.grant_id)
            return True

    def counts(self, network: Network | None) -> dict[str, int]:
        now = self._clock()
        counts = {"active": 0, "expired": 0, "revoked": 0}
        with self._lock:
            for token in self._store.tokens.values():
                if network is None or token.network == network:
                    counts[token.status(now)] += 1
        return counts

    # -- internals (caller holds the lock) -----------------------------------------------

    def _issue(
        self, origin: AuthCode | Token, client_id: str, *, with_refresh: bool, expiring: bool
    ) -> Issued:
        now = self._clock()

        def token(kind: TokenKind, ttl: float | None) -> Token:
            made = Token(
                value=secrets.token_urlsafe(48),
                network=origin.network,
                kind=kind,
                account_id=origin.account_id,
                client_id=client_id,
                scope=origin.scope,
                grant_id=origin.grant_id,
                issued_at=now,
                expires_at=None if ttl is None else now + ttl,
            )
            self._store.tokens[made.value] = made
            return made

        access = token("access", self.access_ttl_s if expiring else None)
        refresh = token("refresh", None) if with_refresh else None
        return Issued(replace(access), replace(refresh) if refresh else None)

    def _session(self, account_id: str, grant_id: str, privileged: bool) -> Issued:
        now = self._clock()
        app_pass = "com.atproto.appPassPrivileged" if privileged else "com.atproto.appPass"

        def token(kind: TokenKind, ttl: float) -> Token:
            scope = app_pass if kind == "access" else "com.atproto.refresh"
            claims = {"scope": scope, "sub": account_id, "iat": int(now), "exp": int(now + ttl)}
            if kind == "refresh":
                claims["jti"] = secrets.token_urlsafe(16)
            made = Token(
                value=jwt_shaped({**claims, "aud": "did:web:sandbox.bsky"}),
                network="bluesky",
                kind=kind,
                account_id=account_id,
                client_id=None,
                scope=(scope,),
                grant_id=grant_id,
                issued_at=now,
                expires_at=now + ttl,
                privileged=privileged,
            )
            self._store.tokens[made.value] = made
            return made

        access = token("access", self.access_ttl_s)
        refresh = token("refresh", BLUESKY_REFRESH_TTL_S)
        return Issued(replace(access), replace(refresh))

    def _revoke_grant(self, grant_id: str) -> None:
        for token in self._store.tokens.values():
            if token.grant_id == grant_id:
                token.revoked = True
