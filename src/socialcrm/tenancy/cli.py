"""``socialcrm tenant|api-key|user …``: the operator's tenants, their API keys and users."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from socialcrm.core.principal import Role
from socialcrm.core.terminal import err, fail, open_database, out, print_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from socialcrm.tenancy.models import Tenant
    from socialcrm.tenancy.policy import TenantPolicy

tenant_app = typer.Typer(help="Tenants and their operator controls.", no_args_is_help=True)
api_key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option(help="Tenant name (it must exist).")]
CreateTenant = Annotated[
    bool, typer.Option("--create-tenant", help="Create the tenant if there is none of that name.")
]
TenantFilter = Annotated[str | None, typer.Option(help="Only this tenant's.")]


def tenant_id(name: str) -> int:
    """The id of the tenant called ``name``, or a one-line error."""
    from sqlalchemy import select

    from socialcrm.tenancy.models import Tenant

    with open_database().session(system=True) as session:
        found = session.scalar(select(Tenant.id).where(Tenant.name == name.strip()))
    if found is None:
        fail(f"no tenant named {name!r} (`socialcrm tenant list` shows them)")
    return int(found)


def _tenant(session: Session, name: str, *, create: bool = False) -> Tenant:
    from socialcrm.core.errors import NotFound
    from socialcrm.tenancy.service import find_tenant, get_or_create_tenant

    if create:
        return get_or_create_tenant(session, name)
    try:
        return find_tenant(session, name)
    except NotFound as exc:
        fail(f"{exc.message}: check the spelling (`socialcrm tenant list`), or add --create-tenant")


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"


# --- tenants ----------------------------------------------------------------------------------


@tenant_app.command("list")
def tenant_list() -> None:
    """Every tenant: active or not, its EF ceiling and job rate limit, users and live keys."""
    from socialcrm.tenancy.service import list_tenants

    with open_database().session(system=True) as session:
        rows = list_tenants(session)
    print_rows(
        ("id", "name", "active", "EF ceiling", "job rate limit", "users", "API keys"),
        [
            (
                str(tenant.id),
                tenant.name,
                "yes" if tenant.active else "no",
                str((tenant.policy or {}).get("ef_ceiling", "none")),
                str((tenant.policy or {}).get("job_rate_limit", "default")),
                str(users),
                str(keys),
            )
            for tenant, users, keys in rows
        ],
    )


def _change(name: str, **values: object) -> TenantPolicy:
    from pydantic import ValidationError

    from socialcrm.tenancy.policy import TenantPolicyChange
    from socialcrm.tenancy.service import change_tenant_policy

    try:
        change = TenantPolicyChange.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        fail(f"--{str(problem['loc'][0]).replace('_', '-')}: {message}")
    with open_database().session(system=True) as session:
        return change_tenant_policy(session, _tenant(session, name), change, actor="cli")


def _show(policy: TenantPolicy) -> None:
    ceiling = "none" if policy.ef_ceiling is None else f"{policy.ef_ceiling:g} EF a month"
    out.print(
        f"tenant {policy.tenant!r}: {'active' if policy.active else 'INACTIVE'}, "
        f"EF ceiling {ceiling}, job rate limit {policy.job_rate_limit or 'default'}",
        highlight=False,
        soft_wrap=True,
    )


@tenant_app.command("set")
def tenant_set(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    ef_ceiling: Annotated[
        str | None, typer.Option(help="EF its bulk jobs may spend per calendar month; 'none'.")
    ] = None,
    job_rate_limit: Annotated[
        str | None,
        typer.Option(help="Jobs it may start: 30/minute, 500/day, N (per minute); 'default'."),
    ] = None,
) -> None:
    """Change a tenant's EF ceiling or job rate limit (the jobs API applies them at once)."""
    values: dict[str, object] = {}
    if ef_ceiling is not None:
        values["ef_ceiling"] = None if ef_ceiling.strip().lower() == "none" else ef_ceiling
    if job_rate_limit is not None:
        default = job_rate_limit.strip().lower() == "default"
        values["job_rate_limit"] = None if default else job_rate_limit
    if not values:
        fail("give --ef-ceiling or --job-rate-limit")
    _show(_change(name, **values))


@tenant_app.command("deactivate")
def tenant_deactivate(name: Annotated[str, typer.Argument(help="Tenant name.")]) -> None:
    """Refuse the tenant's API keys and logins (`inactive_account`) until it is activated;
    running servers refuse them within SOCIALCRM_API_KEY_CACHE_S (10 s)."""
    _show(_change(name, active=False))


@tenant_app.command("activate")
def tenant_activate(name: Annotated[str, typer.Argument(help="Tenant name.")]) -> None:
    """Let a deactivated tenant's keys and users in again."""
    _show(_change(name, active=True))


# --- API keys ---------------------------------------------------------------------------------


@api_key_app.command("create")
def api_key_create(
    tenant: TenantOption,
    role: Annotated[Role, typer.Option(help="Role of the key.")] = Role.ADMIN,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    create_tenant: CreateTenant = False,
) -> None:
    """Create an API key; the key is the last line of output and is shown only once."""
    from socialcrm.tenancy.service import create_api_key

    with open_database().session(system=True) as session:
        record = _tenant(session, tenant, create=create_tenant)
        key, raw = create_api_key(session, tenant=record, role=role, name=name)
        key_id, tenant_name = key.id, record.name
    err.print(
        f"API key {key_id} created for tenant {tenant_name!r} with role {role.value}",
        highlight=False,
    )
    print(raw)


@api_key_app.command("list")
def api_key_list(tenant: TenantFilter = None) -> None:
    """API keys (their first characters, never the secret), newest first."""
    from socialcrm.tenancy.service import list_api_keys

    with open_database().session(system=True) as session:
        tenant_id = _tenant(session, tenant).id if tenant is not None else None
        rows = list_api_keys(session, tenant_id)
    print_rows(
        ("id", "tenant", "role", "name", "starts with", "created", "last used", "revoked"),
        [
            (
                str(key.id),
                tenant_name,
                str(key.role),
                key.name,
                f"{key.prefix}…",
                _when(key.created_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
            for key, tenant_name in rows
        ],
    )


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id, as `api-key create` printed it.")],
) -> None:
    """Revoke an API key; running servers refuse it within SOCIALCRM_API_KEY_CACHE_S (10 s)."""
    from socialcrm.tenancy.service import revoke_api_key

    with open_database().session(system=True) as session:
        revoke_api_key(session, key_id)
    err.print(f"API key {key_id} revoked")


# --- users ------------------------------------------------------------------------------------


def _password() -> str:
    """Never an option (it would show in `ps`): typed twice at a terminal, else the first line
    of standard input, or SOCIALCRM_NEW_PASSWORD."""
    if (from_env := os.environ.get("SOCIALCRM_NEW_PASSWORD")) is not None:
        return from_env
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("create")
def user_create(
    tenant: TenantOption,
    email: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.AGENT,
    name: Annotated[str, typer.Option()] = "",
    create_tenant: CreateTenant = False,
) -> None:
    """Create a user who can log in to the UI; the password is asked for (or read from
    standard input)."""
    from socialcrm.tenancy.service import create_user

    password = _password()
    with open_database().session(system=True) as session:
        record = _tenant(session, tenant, create=create_tenant)
        user = create_user(
            session, tenant=record, email=email, password=password, role=role, name=name
        )
        user_id, user_email, tenant_name = user.id, user.email, record.name
    out.print(
        f"user {user_id} <{user_email}> created in tenant {tenant_name!r} as {role.value}",
        highlight=False,
        soft_wrap=True,
    )


@user_app.command("list")
def user_list(tenant: TenantFilter = None) -> None:
    """Users, by email."""
    from socialcrm.tenancy.service import list_users

    with open_database().session(system=True) as session:
        tenant_id = _tenant(session, tenant).id if tenant is not None else None
        rows = list_users(session, tenant_id)
    print_rows(
        ("id", "tenant", "email", "name", "role", "active", "created"),
        [
            (
                str(user.id),
                tenant_name,
                user.email,
                user.name,
                str(user.role),
                "yes" if user.active else "no",
                _when(user.created_at),
            )
            for user, tenant_name in rows
        ],
    )
