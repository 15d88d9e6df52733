"""OAuth 2.0 authorization-code + PKCE (S256) for X and Mastodon: consent, token, revoke."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from socialcrm.sandbox.bodies import read_fields, text_field
from socialcrm.sandbox.gate import NetworkError, admit, sandbox_state
from socialcrm.sandbox.grants import App, GrantError, Issued, scope_covers
from socialcrm.sandbox.pkce import is_valid_challenge

OAuthNetwork = Literal["x", "mastodon"]
NETWORK_LABELS = {"x": "X", "mastodon": "Mastodon"}
FORWARDED_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

_templates = Environment(
    loader=PackageLoader("socialcrm.sandbox", "templates"),
    autoescape=select_autoescape(["html"]),
)


@dataclass(frozen=True)
class OAuthPaths:
    network: OAuthNetwork
    authorize: str
    token: str
    revoke: str


X_OAUTH = OAuthPaths("x", "/x/i/oauth2/authorize", "/x/2/oauth2/token", "/x/2/oauth2/revoke")
MASTODON_OAUTH = OAuthPaths(
    "mastodon", "/mastodon/oauth/authorize", "/mastodon/oauth/token", "/mastodon/oauth/revoke"
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
    request: Request, network: OAuthNetwork, params: dict[str, str]
) -> AuthRequest:
    """Validate the parameters that decide whether redirecting back is safe at all."""
    app = sandbox_state(request).grants.app(network, params.get("client_id", ""))
    if app is None:
        raise ConsentError("Unknown client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        raise ConsentError("redirect_uri is not registered for this client.")
    if params.get("response_type") != "code":
        raise ConsentError("response_type must be 'code'.")
    if params.get("code_challenge_method") != "S256":
        raise ConsentError("PKCE is required with code_challenge_method=S256.")
    challenge = params.get("code_challenge", "")
    if not is_valid_challenge(challenge):
        raise ConsentError("code_challenge must be a BASE64URL SHA-256 digest (43 characters).")
    default_scope = "read" if network == "mastodon" else ""
    scope = tuple((params.get("scope") or default_scope).split())
    return AuthRequest(app, redirect_uri, scope, params.get("state"), challenge)


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
    accounts = sorted(sandbox_state(request).world.accounts(network), key=lambda a: a.handle)
    return _templates.get_template("consent.html").render(
        app_name=auth.app.name,
        network_label=NETWORK_LABELS[network],
        scopes=auth.scope,
        action=path,
        hidden=hidden,
        accounts=accounts,
    )


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
    return text_field(fields, "client_id") or "", text_field(fields, "client_secret")


def oauth_failure(error: GrantError) -> NetworkError:
    status = 401 if error.error == "invalid_client" else 400
    return NetworkError(status, {"error": error.error, "error_description": error.description})


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
    answer: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": round((access.expires_at or access.issued_at) - access.issued_at),
        "access_token": access.value,
        "scope": scope,
    }
    if issued.refresh is not None:
        answer["refresh_token"] = issued.refresh.value
    return answer


def _exchange(request: Request, network: OAuthNetwork, app: App, fields: dict[str, Any]) -> Issued:
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
    if grant_type == "refresh_token" and network == "x":
        return grants.refresh(app, text_field(fields, "refresh_token") or "")
    raise GrantError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")


def oauth_router(paths: OAuthPaths) -> APIRouter:
    """Authorize (GET consent page, POST decision), token and revoke for one network."""
    router = APIRouter(tags=[f"sandbox: {paths.network} oauth"])
    network = paths.network

    @router.get(paths.authorize, response_class=HTMLResponse)
    async def authorize_page(request: Request) -> Response:
        try:
            auth = parse_auth_request(request, network, dict(request.query_params))
        except ConsentError as error:
            return _error_page(network, str(error))
        return HTMLResponse(_consent_page(request, network, auth, paths.authorize))

    @router.post(paths.authorize)
    async def authorize_decision(request: Request) -> Response:
        fields = await read_fields(request)
        params = {**dict(request.query_params), **{k: str(v) for k, v in fields.items()}}
        try:
            auth = parse_auth_request(request, network, params)
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
            issued = _exchange(request, network, app, fields)
        except GrantError as error:
            raise oauth_failure(error) from error
        return JSONResponse(token_json(network, issued), headers={"Cache-Control": "no-store"})

    @router.post(paths.revoke)
    async def revoke(request: Request) -> dict[str, Any]:
        fields = await read_fields(request)
        await admit(request, network, "revoke")
        try:
            client_id, secret = client_credentials(request, fields)
            app = sandbox_state(request).grants.authenticate(network, client_id, secret)
        except GrantError as error:
            raise oauth_failure(error) from error
        value = text_field(fields, "token")
        if not value:
            raise oauth_failure(GrantError("invalid_request", "token is required."))
        # RFC 7009 §2.2: unknown (or already revoked) tokens still answer 200.
        sandbox_state(request).grants.revoke(network, value, app.client_id)
        return {"revoked": True} if network == "x" else {}

    return router
