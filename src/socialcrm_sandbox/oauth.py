"""OAuth 2.0 authorization-code + PKCE (S256) for every OAuth network: consent, token, revoke.

One machinery, each network's paths and deviations in its ``OAuthPaths``: TikTok's
``client_key``, Google's unauthenticated revoke and non-rotating refresh, Meta's grant removal
through the Graph API (``DELETE /me/permissions``, in ``graph.py``) instead of a revoke URL.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from socialcrm_sandbox.bodies import read_fields, text_field
from socialcrm_sandbox.gate import NetworkError, admit, sandbox_state
from socialcrm_sandbox.grants import App, GrantError, Issued, scope_covers
from socialcrm_sandbox.pkce import is_hex_challenge, is_valid_challenge
from socialcrm_sandbox.schema import OAuthNetwork
from socialcrm_sandbox.world import Account

NETWORK_LABELS = {
    "x": "X",
    "mastodon": "Mastodon",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "youtube": "YouTube",
    "tiktok": "TikTok",
}
# Who can sign in on each network's consent page: a LinkedIn member (not an organisation),
# a Facebook user (who then lists the Pages they manage), an Instagram professional account.
SIGN_IN_TYPES: dict[str, frozenset[str]] = {
    "linkedin": frozenset({"member"}),
    "facebook": frozenset({"person"}),
    "instagram": frozenset({"business", "creator"}),
}
FORWARDED_PARAMS = (
    "response_type",
    "client_id",
    "client_key",
    "access_type",
    "prompt",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

_templates = Environment(
    loader=PackageLoader("socialcrm_sandbox", "templates"),
    autoescape=select_autoescape(["html"]),
)


@dataclass(frozen=True)
class OAuthPaths:
    network: OAuthNetwork
    authorize: str
    token: str
    revoke: str | None  # None: the network revokes some other way (Meta)
    refreshable: bool = False  # grant_type=refresh_token is accepted
    rotate_refresh: bool = True  # a refresh returns a new refresh token, the old one dies
    client_id_param: str = "client_id"  # TikTok: client_key
    revoke_needs_client: bool = True  # Google revokes by the token alone
    # "required": S256 base64url; "optional": S256 if sent (LinkedIn documents PKCE only for
    # native apps it enables); "hex": if sent, TikTok's hex SHA-256 digest (base64url refused).
    pkce: Literal["required", "optional", "hex"] = "required"


X_OAUTH = OAuthPaths(
    "x", "/x/i/oauth2/authorize", "/x/2/oauth2/token", "/x/2/oauth2/revoke", refreshable=True
)
# PKCE is optional (a confidential client may leave it out) on Mastodon from 4.3 (older
# instances ignore it), Google and Meta; required on X.
MASTODON_OAUTH = OAuthPaths(
    "mastodon",
    "/mastodon/oauth/authorize",
    "/mastodon/oauth/token",
    "/mastodon/oauth/revoke",
    pkce="optional",
)
LINKEDIN_OAUTH = OAuthPaths(
    "linkedin",
    "/linkedin/oauth/v2/authorization",
    "/linkedin/oauth/v2/accessToken",
    "/linkedin/oauth/v2/revoke",
    refreshable=True,
    pkce="optional",
)
FACEBOOK_OAUTH = OAuthPaths(
    "facebook",
    "/facebook/v26.0/dialog/oauth",
    "/facebook/v26.0/oauth/access_token",
    None,
    pkce="optional",
)
INSTAGRAM_OAUTH = OAuthPaths(
    "instagram",
    "/instagram/oauth/authorize",
    "/instagram/oauth/access_token",
    None,
    pkce="optional",
)
YOUTUBE_OAUTH = OAuthPaths(
    "youtube",
    "/youtube/o/oauth2/v2/auth",
    "/youtube/token",
    "/youtube/revoke",
    refreshable=True,
    rotate_refresh=False,
    revoke_needs_client=False,
    pkce="optional",
)
TIKTOK_OAUTH = OAuthPaths(
    "tiktok",
    "/tiktok/v2/auth/authorize/",
    "/tiktok/v2/oauth/token/",
    "/tiktok/v2/oauth/revoke/",
    refreshable=True,
    client_id_param="client_key",
    pkce="hex",
)
ALL_OAUTH = (
    X_OAUTH,
    MASTODON_OAUTH,
    LINKEDIN_OAUTH,
    FACEBOOK_OAUTH,
    INSTAGRAM_OAUTH,
    YOUTUBE_OAUTH,
    TIKTOK_OAUTH,
)


class ConsentError(Exception):
    """The request cannot be trusted with a redirect: answer with a 400 page."""


@dataclass(frozen=True)
class AuthRequest:
    app: App
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    challenge: str


def with_query(uri: str, params: dict[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(kept)}"


def parse_auth_request(
    request: Request,
    network: OAuthNetwork,
    params: dict[str, str],
    client_id_param: str = "client_id",
    pkce: str = "required",
) -> AuthRequest:
    """Validate the parameters that decide whether redirecting back is safe at all."""
    client_id = params.get(client_id_param) or params.get("client_id", "")
    app = sandbox_state(request).grants.app(network, client_id)
    if app is None:
        raise ConsentError("Unknown client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        raise ConsentError("redirect_uri is not registered for this client.")
    if params.get("response_type") != "code":
        raise ConsentError("response_type must be 'code'.")
    challenge = _challenge(request, network, params, pkce)
    default_scope = "read" if network == "mastodon" else ""
    scope = tuple((params.get("scope") or default_scope).replace(",", " ").split())
    return AuthRequest(app, redirect_uri, scope, params.get("state"), challenge)


def _challenge(request: Request, network: OAuthNetwork, params: dict[str, str], pkce: str) -> str:
    """The PKCE challenge to bind to the code ("" where the network lets a client omit it)."""
    if network == "mastodon" and not sandbox_state(request).mastodon_has_pkce():
        return ""  # before 4.3 Mastodon knows nothing of PKCE and ignores both parameters
    challenge = params.get("code_challenge", "")
    if pkce != "required" and not challenge and "code_challenge_method" not in params:
        return ""
    if params.get("code_challenge_method") != "S256":
        raise ConsentError("PKCE is required with code_challenge_method=S256.")
    if pkce == "hex":
        if not is_hex_challenge(challenge):
            raise ConsentError(
                "code_challenge: use the hex encoding of SHA256 of the code_verifier "
                "(64 characters)."
            )
        return challenge
    if not is_valid_challenge(challenge):
        raise ConsentError("code_challenge must be a BASE64URL SHA-256 digest (43 characters).")
    return challenge


def _scope_allowed(auth: AuthRequest) -> bool:
    granted = auth.app.scopes
    return granted is None or all(scope_covers(granted, s) for s in auth.scope)


def _error_page(network: OAuthNetwork, message: str) -> HTMLResponse:
    page = _templates.get_template("oauth_error.html").render(
        network_label=NETWORK_LABELS[network], message=message
    )
    return HTMLResponse(page, status_code=400)


def _consent_page(request: Request, network: OAuthNetwork, auth: AuthRequest, path: str) -> str:
    params = request.query_params
    hidden = [(name, params[name]) for name in FORWARDED_PARAMS if name in params]
    accounts = sorted(
        (a for a in sandbox_state(request).world.accounts(network) if can_sign_in(a)),
        key=lambda a: a.handle,
    )
    return _templates.get_template("consent.html").render(
        app_name=auth.app.name,
        network_label=NETWORK_LABELS[network],
        scopes=auth.scope,
        action=path,
        hidden=hidden,
        accounts=accounts,
    )


def can_sign_in(account: Account) -> bool:
    kinds = SIGN_IN_TYPES.get(account.network)
    return kinds is None or account.account_type in kinds


def client_credentials(request: Request, fields: dict[str, Any]) -> tuple[str, str | None]:
    """``(client_id, client_secret)`` from HTTP Basic (preferred) or the form body."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", None
        client_id, _, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    client_id = text_field(fields, "client_key") or text_field(fields, "client_id") or ""
    return client_id, text_field(fields, "client_secret")


def oauth_failure(error: GrantError) -> NetworkError:
    status = 401 if error.error == "invalid_client" else 400
    return NetworkError(status, {"error": error.error, "error_description": error.description})


def _lifetime(issued: Issued) -> int:
    access = issued.access
    return round((access.expires_at or access.issued_at) - access.issued_at)


def token_json(network: OAuthNetwork, issued: Issued) -> dict[str, Any]:
    access = issued.access
    scope = " ".join(access.scope)
    if network == "mastodon":
        return {
            "access_token": access.value,
            "token_type": "Bearer",
            "scope": scope,
            "created_at": int(access.issued_at),
        }
    if network in ("facebook", "instagram"):
        answer: dict[str, Any] = {
            "access_token": access.value,
            "token_type": "bearer",
            "expires_in": _lifetime(issued),
        }
        if network == "instagram":
            # Instagram Login's documented answer: one token wrapped in a data list, with the
            # permissions comma-separated (and no expiry: it lives about an hour).
            return {
                "data": [
                    {
                        "access_token": access.value,
                        "user_id": access.account_id,
                        "permissions": ",".join(access.scope),
                    }
                ]
            }
        return answer
    if network in ("linkedin", "youtube", "tiktok"):
        return _refreshing_token_json(network, issued)
    answer = {
        "token_type": "bearer",
        "expires_in": _lifetime(issued),
        "access_token": access.value,
        "scope": scope,
    }
    if issued.refresh is not None:
        answer["refresh_token"] = issued.refresh.value
    return answer


REFRESH_TTL_S = {"linkedin": 365 * 24 * 3600, "tiktok": 365 * 24 * 3600}


def _refreshing_token_json(network: OAuthNetwork, issued: Issued) -> dict[str, Any]:
    """LinkedIn, Google and TikTok: an expiring access token, often with a refresh token."""
    access = issued.access
    answer: dict[str, Any] = {"access_token": access.value, "expires_in": _lifetime(issued)}
    if issued.refresh is not None:
        answer["refresh_token"] = issued.refresh.value
        if network in REFRESH_TTL_S:
            key = "refresh_token_expires_in" if network == "linkedin" else "refresh_expires_in"
            answer[key] = REFRESH_TTL_S[network]
    if network == "tiktok":
        answer |= {"open_id": access.account_id, "token_type": "Bearer"}
        answer["scope"] = ",".join(access.scope)
    else:
        answer["scope"] = " ".join(access.scope)
        if network == "youtube":
            answer["token_type"] = "Bearer"  # noqa: S105 - the token type, not a secret
    return answer


def _exchange(request: Request, paths: OAuthPaths, app: App, fields: dict[str, Any]) -> Issued:
    grants = sandbox_state(request).grants
    grant_type = text_field(fields, "grant_type")
    if grant_type == "authorization_code":
        code = text_field(fields, "code")
        if not code:
            raise GrantError("invalid_request", "code is required.")
        return grants.exchange_code(
            app,
            code,
            text_field(fields, "redirect_uri") or "",
            text_field(fields, "code_verifier") or "",
        )
    if grant_type == "refresh_token" and paths.refreshable:
        return grants.refresh(
            app, text_field(fields, "refresh_token") or "", rotate=paths.rotate_refresh
        )
    raise GrantError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")


def oauth_router(paths: OAuthPaths) -> APIRouter:
    """Authorize (GET consent page, POST decision), token and revoke for one network."""
    router = APIRouter(tags=[f"sandbox: {paths.network} oauth"])
    network = paths.network

    @router.get(paths.authorize, response_class=HTMLResponse)
    async def authorize_page(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            auth = parse_auth_request(request, network, params, paths.client_id_param, paths.pkce)
        except ConsentError as error:
            return _error_page(network, str(error))
        return HTMLResponse(_consent_page(request, network, auth, paths.authorize))

    @router.post(paths.authorize)
    async def authorize_decision(request: Request) -> Response:
        fields = await read_fields(request)
        params = {**dict(request.query_params), **{k: str(v) for k, v in fields.items()}}
        try:
            auth = parse_auth_request(request, network, params, paths.client_id_param, paths.pkce)
        except ConsentError as error:
            return _error_page(network, str(error))
        decision = params.get("decision")
        if decision == "deny":
            target = {"error": "access_denied", "state": auth.state}
            return RedirectResponse(with_query(auth.redirect_uri, target), status_code=303)
        if not _scope_allowed(auth):
            target = {"error": "invalid_scope", "state": auth.state}
            return RedirectResponse(with_query(auth.redirect_uri, target), status_code=303)
        account = sandbox_state(request).world.account_by_handle(network, params.get("account", ""))
        if account is not None and not can_sign_in(account):
            account = None
        if decision != "allow" or account is None:
            return _error_page(network, "Choose an account, then Allow or Deny.")
        code = sandbox_state(request).grants.issue_code(
            auth.app, auth.redirect_uri, auth.scope, auth.challenge, account.user_id
        )
        target = {"code": code, "state": auth.state}
        return RedirectResponse(with_query(auth.redirect_uri, target), status_code=303)

    @router.post(paths.token)
    async def token(request: Request) -> JSONResponse:
        fields = await read_fields(request)
        await admit(request, network, "token")
        try:
            client_id, secret = client_credentials(request, fields)
            app = sandbox_state(request).grants.authenticate(network, client_id, secret)
            issued = _exchange(request, paths, app, fields)
        except GrantError as error:
            raise oauth_failure(error) from error
        return JSONResponse(token_json(network, issued), headers={"Cache-Control": "no-store"})

    if paths.revoke is not None:
        router.add_api_route(paths.revoke, _revoke_endpoint(paths), methods=["POST"])
    return router


def _revoke_endpoint(paths: OAuthPaths) -> Any:
    network = paths.network

    async def revoke(request: Request) -> dict[str, Any]:
        fields = await read_fields(request)
        await admit(request, network, "revoke")
        grants = sandbox_state(request).grants
        value = text_field(fields, "token") or request.query_params.get("token")
        if paths.revoke_needs_client:
            try:
                client_id, secret = client_credentials(request, fields)
                owner: str | None = grants.authenticate(network, client_id, secret).client_id
            except GrantError as error:
                raise oauth_failure(error) from error
        else:
            token = grants.lookup(network, value or "", "access") or grants.lookup(
                network, value or "", "refresh"
            )
            if token is None:  # Google: an unknown token is 400 invalid_token
                raise oauth_failure(GrantError("invalid_token", "Token expired or revoked."))
            owner = token.client_id
        if not value:
            raise oauth_failure(GrantError("invalid_request", "token is required."))
        # RFC 7009 §2.2: unknown (or already revoked) tokens still answer 200.
        grants.revoke(network, value, owner)
        return {"revoked": True} if network == "x" else {}

    return revoke
