"""Tenancy's answer to "who is calling" for the web kit (``core.web.context.Authenticator``):
API keys, login sessions, and the user and tenant a page's header shows. The composition root
installs it on the app."""

from __future__ import annotations

from sqlalchemy.orm import Session

from socialcrm.core.db import get_database
from socialcrm.core.principal import Principal
from socialcrm.tenancy import login as logins
from socialcrm.tenancy.models import Tenant, User
from socialcrm.tenancy.service import authenticate_api_key, cached_principal


class TenancyAuthenticator:
    def api_key(self, session: Session, token: str) -> Principal:
        return authenticate_api_key(session, token)

    def remembered_api_key(self, token: str) -> Principal | None:
        return cached_principal(token)

    def resume_login(self, token: str) -> Principal | None:
        return logins.resume(get_database(), token)

    def page_header(self, session: Session, principal: Principal) -> tuple[object, object]:
        user = None if principal.user_id is None else session.get(User, principal.user_id)
        return user, session.get(Tenant, principal.tenant_id)
