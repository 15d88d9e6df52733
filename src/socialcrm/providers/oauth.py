"""OAuth 2.0 (with PKCE where the network takes it) through Authlib, with the network's
answers mapped to typed outcomes.

Authlib's framework-neutral client builds what the protocol needs (authorization URLs with
PKCE, token and revocation request bodies, client authentication) and reads token answers;
the requests go through a short-lived ``httpx.AsyncClient`` over the caller's transport (so
tests' ``MockTransport`` and the caller's connection pool are used), and closing it never
closes the caller's transport. (Authlib's own httpx integration is deprecated in favour of
httpx2, and warned on every command.) ``OAuth2Adapter`` gives an adapter the connecting half
of ``Provider`` from its ``oauth_endpoints`` and a few class attributes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request

from socialcrm.providers.adapter import AdapterBase
from socialcrm.providers.base import (
    AppCredentials,
    Capability,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected
from socialcrm.providers.wire import Wire, check_status, error_body, error_summary, utc_now

_DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
_FORM_HEADERS: Final = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


class _SharedTransport(httpx.AsyncBaseTransport):
    """Delegates to the caller's transport and leaves it open on close."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class _Protocol(OAuth2Client):  # type: ignore[misc]
    """Authlib's client without a session: it never sends anything itself. Its errors carry
    the network's ``error`` and ``error_description`` as given (the server-side error class
    would refuse some descriptions)."""

    oauth_error_class = OAuthError


@dataclass(frozen=True, slots=True)
class OAuthClientConfig:
    """Where a network's OAuth endpoints are and how its token endpoint authenticates us."""

    wire: Wire
    authorize_url: str
    token_url: str
    revoke_url: str | None
    auth_method: str  # Authlib's: client_secret_basic | client_secret_post | none
    # Networks that deviate from RFC 6749: TikTok names the client "client_key" in every
    # request and separates scopes with commas.
    extra_params: tuple[tuple[str, str], ...] = ()
    scope_separator: str = " "
    # Instagram Login answers ``{"data": [{"access_token", "user_id", "permissions"}]}``.
    token_in_data_list: bool = False
    # PKCE as the network documents it: "S256" (RFC 7636), "hex" (TikTok: the hex digest of
    # SHA-256 instead of base64url, still named S256), None (not used: a confidential client).
    pkce: str | None = "S256"


def _protocol(app: AppCredentials) -> Any:
    return _Protocol(None, client_id=app.client_id, code_challenge_method="S256")


async def _post_form(
    http: httpx.AsyncClient, app: AppCredentials, auth_method: str, url: str, body: str
) -> httpx.Response:
    """POST a form to a token or revocation endpoint, the client authenticated Authlib's way."""
    client_auth = ClientAuth(app.client_id, app.client_secret or None, auth_method)
    url, headers, body = client_auth.prepare("POST", url, dict(_FORM_HEADERS), body)
    transport: httpx.AsyncBaseTransport = http._transport
    async with httpx.AsyncClient(
        transport=_SharedTransport(transport), timeout=http.timeout
    ) as client:
        return await client.post(url, content=body, headers=headers)


async def _token_request(
    config: OAuthClientConfig, http: httpx.AsyncClient, app: AppCredentials, body: str
) -> TokenSet:
    with _oauth_outcomes(config.wire):
        response = await _post_form(http, app, config.auth_method, config.token_url, body)
        if response.status_code == 429 or response.status_code >= 500:
            check_status(response, config.wire)  # RateLimited / Transient, before Authlib reads
        if config.token_in_data_list:
            response = unwrap_token_answer(response)
        token = _protocol(app).parse_response_token(response)
    return token_set(token, utc_now(), config.wire)


def auth_method_for(app: AppCredentials, confidential: str) -> str:
    """Public clients (no secret) send only ``client_id``; confidential ones authenticate."""
    return confidential if app.client_secret else "none"


def authorization_url(
    config: OAuthClientConfig,
    http: httpx.AsyncClient,
    app: AppCredentials,
    *,
    redirect_uri: str,
    state: str,
    code_verifier: str,
    scopes: tuple[str, ...],
) -> str:
    challenge: dict[str, str] = {}
    if config.pkce == "S256":
        challenge["code_verifier"] = code_verifier  # Authlib derives the S256 challenge
    elif config.pkce == "hex":
        challenge = {
            "code_challenge": hex_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
    url, _state = _protocol(app).create_authorization_url(
        config.authorize_url,
        state=state,
        redirect_uri=redirect_uri,
        scope=config.scope_separator.join(scopes),
        **challenge,
        **dict(config.extra_params),
    )
    return str(url)


def hex_challenge(code_verifier: str) -> str:
    """TikTok's code challenge: the lowercase hex SHA-256 digest of the verifier."""
    return hashlib.sha256(code_verifier.encode("ascii")).hexdigest()


async def exchange_code(
    config: OAuthClientConfig,
    http: httpx.AsyncClient,
    app: AppCredentials,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> TokenSet:
    verifier = {"code_verifier": code_verifier} if config.pkce else {}
    body = prepare_token_request(
        "authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        **verifier,
        **dict(config.extra_params),
    )
    return await _token_request(config, http, app, body)


async def refresh(
    config: OAuthClientConfig, http: httpx.AsyncClient, app: AppCredentials, refresh_token: str
) -> TokenSet:
    """Exchange a refresh token; the answer's (rotated) refresh token is the one to keep."""
    body = prepare_token_request(
        "refresh_token", refresh_token=refresh_token, **dict(config.extra_params)
    )
    return await _token_request(config, http, app, body)


async def revoke(
    config: OAuthClientConfig,
    http: httpx.AsyncClient,
    app: AppCredentials,
    *,
    token: str,
    token_type_hint: str,
) -> None:
    if config.revoke_url is None:
        return
    body, _headers = prepare_revoke_token_request(
        token, token_type_hint or None, urlencode(config.extra_params)
    )
    with _oauth_outcomes(config.wire):
        response = await _post_form(http, app, config.auth_method, config.revoke_url, body)
    _raise_for_revoke(response, config.wire)


def _raise_for_revoke(response: httpx.Response, wire: Wire) -> None:
    check_status(response, wire)
    if response.status_code >= 400:
        if error_body(response).get("error") in _DEAD_GRANT_ERRORS:
            raise ReconnectRequired(f"{wire.network}: revoke refused ({error_summary(response)})")
        raise RequestRejected(response.status_code, f"{wire.network}: revoke refused")


@contextmanager
def _oauth_outcomes(wire: Wire) -> Iterator[None]:
    """Authlib's and httpx's exceptions → our typed outcomes."""
    try:
        yield
    except OAuthError as exc:
        code = str(getattr(exc, "error", ""))
        message = f"{wire.network}: {code} ({getattr(exc, 'description', '') or ''})"
        if code in _DEAD_GRANT_ERRORS:
            raise ReconnectRequired(message) from exc
        raise RequestRejected(400, message) from exc
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        message = f"{wire.network}: token endpoint HTTP {status}"
        if status in {401, 403}:
            raise ReconnectRequired(message) from exc
        raise RequestRejected(status, message) from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(f"{wire.network}: {type(exc).__name__}") from exc
    except ValueError as exc:  # Authlib: the answer was not a JSON object
        raise TransientProviderError(f"{wire.network}: unreadable token answer") from exc


def unwrap_token_answer(response: httpx.Response) -> httpx.Response:
    """``{"data": [{"access_token", "permissions": "a,b"}]}`` (or the same unwrapped) →
    ``{"access_token", "scope"}`` for Authlib."""
    body = error_body(response)
    items = body.get("data")
    if response.status_code >= 400 or not body:
        return response
    token = (
        dict(items[0]) if isinstance(items, list) and items and isinstance(items[0], dict) else body
    )
    permissions = token.get("permissions")
    if "scope" not in token and isinstance(permissions, str | list):
        token["scope"] = permissions if isinstance(permissions, str) else ",".join(permissions)
    return httpx.Response(response.status_code, json=token, request=response.request)


def token_set(token: Mapping[str, Any], now: datetime, wire: Wire) -> TokenSet:
    """A ``TokenSet`` from a token answer; refuses one without an access token."""
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise TransientProviderError(f"{wire.network}: token answer without an access_token")
    refresh_token = token.get("refresh_token")
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = now + timedelta(seconds=float(expires_in))
    scope = token.get("scope")
    return TokenSet(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scopes=tuple(scope.replace(",", " ").split()) if isinstance(scope, str) else (),
    )


class OAuth2Adapter(AdapterBase):
    """The connecting half of an adapter whose network speaks OAuth 2.0 + PKCE.

    The adapter sets ``wire`` and implements ``oauth_endpoints``; each method forwards to this
    module's function of the same name. The class attributes say where a network departs from
    the plain flow. ``refresh`` and ``revoke`` act only for an adapter that declares
    ``Capability.REFRESH`` / ``Capability.REVOKE``; elsewhere they stay ``NotSupported``.
    """

    wire: ClassVar[Wire]
    # How a confidential client authenticates at the token endpoint (a public one, without a
    # secret, sends only its client_id): Authlib's client_secret_post | client_secret_basic.
    confidential_auth: ClassVar[str] = "client_secret_post"
    # The same at the revocation endpoint, where the network wants otherwise (Google: "none").
    revoke_auth: ClassVar[str | None] = None
    # Added to the authorization URL only (Google: offline access, consent every time).
    authorize_params: ClassVar[tuple[tuple[str, str], ...]] = ()
    scope_separator: ClassVar[str] = " "
    # ``revoke`` sends the refresh token, when there is one, where revoking it ends the whole
    # grant; else the access token.
    revoke_refresh_token: ClassVar[bool] = False
    # ``revoke`` names the token's type (RFC 7009 ``token_type_hint``).
    revoke_type_hint: ClassVar[bool] = True
    # How the network takes PKCE (see ``OAuthClientConfig.pkce``).
    pkce: ClassVar[str | None] = "S256"
    token_in_data_list: ClassVar[bool] = False

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, auth_base_url: str | None = None
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._auth_base = (auth_base_url or base_url).rstrip("/")

    def _client_params(self, app: AppCredentials) -> tuple[tuple[str, str], ...]:
        """Parameters every OAuth request carries besides RFC 6749's (TikTok: client_key)."""
        return ()

    def _oauth(self, app: AppCredentials) -> OAuthClientConfig:
        endpoints = self.oauth_endpoints()
        return OAuthClientConfig(
            wire=self.wire,
            authorize_url=endpoints.authorize_url,
            token_url=endpoints.token_url,
            revoke_url=endpoints.revoke_url,
            auth_method=auth_method_for(app, self.confidential_auth),
            extra_params=self._client_params(app),
            scope_separator=self.scope_separator,
            pkce=self.pkce,
            token_in_data_list=self.token_in_data_list,
        )

    def authorization_url(
        self,
        app: AppCredentials,
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str,
        scopes: tuple[str, ...],
    ) -> str:
        config = self._oauth(app)
        if self.authorize_params:
            config = replace(config, extra_params=(*config.extra_params, *self.authorize_params))
        return authorization_url(
            config,
            self._http,
            app,
            redirect_uri=redirect_uri,
            state=state,
            code_verifier=code_verifier,
            scopes=scopes,
        )

    async def exchange_code(
        self, app: AppCredentials, *, code: str, redirect_uri: str, code_verifier: str
    ) -> TokenSet:
        return await exchange_code(
            self._oauth(app),
            self._http,
            app,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenSet:
        """The answer's refresh token is the one to keep (where the network rotates it)."""
        if not self.supports(Capability.REFRESH):
            return await super().refresh(app, refresh_token)
        return await refresh(self._oauth(app), self._http, app, refresh_token)

    async def revoke(self, app: AppCredentials, tokens: TokenSet) -> None:
        """RFC 7009 at ``oauth_endpoints().revoke_url`` (nothing to do where there is none)."""
        if not self.supports(Capability.REVOKE):
            await super().revoke(app, tokens)
            return
        if self.revoke_refresh_token and tokens.refresh_token:
            token, hint = tokens.refresh_token, "refresh_token"
        else:
            token, hint = tokens.access_token, "access_token"
        config = self._oauth(app)
        if self.revoke_auth is not None:
            config = replace(config, auth_method=auth_method_for(app, self.revoke_auth))
        await revoke(
            config,
            self._http,
            app,
            token=token,
            token_type_hint=hint if self.revoke_type_hint else "",
        )
