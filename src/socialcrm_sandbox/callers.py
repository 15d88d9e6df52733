"""Who is calling: the account behind a bearer token, for the dialects without sessions."""

from __future__ import annotations

from starlette.requests import Request

from socialcrm_sandbox.gate import NetworkError, bearer_token, sandbox_state
from socialcrm_sandbox.grants import Token
from socialcrm_sandbox.schema import Network
from socialcrm_sandbox.world import Account


def caller_account(request: Request, network: Network, refusal: NetworkError) -> Account:
    """The token's account; ``refusal`` (the network's 401) for a missing, dead or alien token.

    Graph API clients may also send the token as the ``access_token`` query parameter.
    """
    return caller_grant(request, network, refusal)[0]


def caller_grant(
    request: Request, network: Network, refusal: NetworkError
) -> tuple[Account, Token]:
    """The token's account and the token itself (its scopes, its kind of grant)."""
    state = sandbox_state(request)
    value = bearer_token(request) or request.query_params.get("access_token")
    token = state.grants.lookup(network, value, "access") if value else None
    if token is None or token.status(state.clock()) != "active":
        raise refusal
    account = state.world.account_by_id(network, token.account_id)
    if account is None:
        raise refusal
    return account, token
