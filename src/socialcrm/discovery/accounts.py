"""Company Accounts with a website are enriched by the discovery engine.

When an Account is created or its website changes (the CRM's ``AccountWebsiteChanged``, wired
in ``socialcrm.wiring``), and in the nightly run, its website is read and every profile found
becomes a suggestion on the Account, which a person accepts or rejects. A rejected URL is remembered
and never suggested again; an accepted one stays accepted.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.principal import Principal
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.crm.events import AccountWebsiteChanged
from socialcrm.crm.models import Account
from socialcrm.discovery.crawler import Crawler, SiteRequest, SiteResult, run_sync, site_url
from socialcrm.discovery.models import (
    AccountDiscoveryRun,
    AccountProfileSuggestion,
    SuggestionStatus,
)
from socialcrm.discovery.settings import get_discovery_settings

# --- the trigger ------------------------------------------------------------------------------


def on_website_changed(session: Session, changed: AccountWebsiteChanged) -> None:
    """NOW (the CRM's ``AccountWebsiteChanged``): read the website after the commit."""
    from socialcrm.discovery.tasks import discover_account

    enqueue_after_commit(
        session, discover_account, changed.tenant_id, changed.account_id, once=True
    )


# --- reading the website ----------------------------------------------------------------------


def discover_account(db: Database, tenant_id: int, account_id: int) -> int:
    """Read the Account's website; returns how many new suggestions it made."""
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(Account, account_id)
        if account is None:
            return 0
        website, name = account.website, account.name
    parsed = site_url(website)
    if parsed is None:
        result = SiteResult(key=account_id, failure="invalid_url", detail="no usable website")
    else:
        result = run_sync(_crawl_one(SiteRequest(account_id, parsed[0], name, parsed[1])))
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(Account, account_id)
        if account is None or account.website != website:
            return 0  # deleted, or changed meanwhile (that change queued its own run)
        return record_account_profiles(session, account, result)


async def _crawl_one(request: SiteRequest) -> SiteResult:
    crawler = Crawler(get_discovery_settings(), allow_private=get_settings().allow_private_fetch)
    async with crawler:
        return await crawler.discover(request)


def record_account_profiles(session: Session, account: Account, result: SiteResult) -> int:
    """Suggest each found profile the Account has never seen (a rejection is final)."""
    known = set(
        session.scalars(
            select(AccountProfileSuggestion.url).where(
                AccountProfileSuggestion.account_id == account.id
            )
        )
    )
    added = 0
    for network, url in sorted(result.profiles.items()):
        if url in known:
            continue
        session.add(
            AccountProfileSuggestion(
                account_id=account.id, network=network, url=url, found_on=result.final_url
            )
        )
        added += 1
    run = session.scalars(
        select(AccountDiscoveryRun).where(AccountDiscoveryRun.account_id == account.id)
    ).first()
    if run is None:
        run = AccountDiscoveryRun(account_id=account.id)
        session.add(run)
    run.website, run.ran_at, run.found = account.website, utcnow(), len(result.profiles)
    run.failure, run.failure_detail = result.failure or "", result.detail[:300]
    session.flush()
    return added


# --- people decide ----------------------------------------------------------------------------


def suggestions(session: Session, account_id: int) -> list[AccountProfileSuggestion]:
    if session.get(Account, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    return list(
        session.scalars(
            select(AccountProfileSuggestion)
            .where(AccountProfileSuggestion.account_id == account_id)
            .order_by(AccountProfileSuggestion.network, AccountProfileSuggestion.id)
        )
    )


def pending_counts(session: Session, account_ids: list[int]) -> dict[int, int]:
    """How many suggestions wait for a decision, per Account (absent: none)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(AccountProfileSuggestion.account_id, func.count())
        .where(
            AccountProfileSuggestion.account_id.in_(account_ids),
            AccountProfileSuggestion.status == SuggestionStatus.SUGGESTED,
        )
        .group_by(AccountProfileSuggestion.account_id)
    ).tuples()
    return dict(rows.all())


def last_run(session: Session, account_id: int) -> AccountDiscoveryRun | None:
    return session.scalars(
        select(AccountDiscoveryRun).where(AccountDiscoveryRun.account_id == account_id)
    ).first()


def decide(
    session: Session, principal: Principal, account_id: int, suggestion_id: int, accept: bool
) -> AccountProfileSuggestion:
    suggestion = session.get(AccountProfileSuggestion, suggestion_id)
    if suggestion is None or suggestion.account_id != account_id:
        raise NotFound(f"suggestion {suggestion_id} not found on account {account_id}")
    suggestion.status = SuggestionStatus.ACCEPTED if accept else SuggestionStatus.REJECTED
    suggestion.decided_by, suggestion.decided_at = principal.actor, utcnow()
    session.flush()
    return suggestion


def accounts_with_websites(db: Database) -> list[tuple[int, int]]:
    """(tenant_id, account_id) of every Account with a website, for the nightly run."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(Account.tenant_id, Account.id).where(Account.website != "")
        ).all()
    return [(tenant_id, account_id) for tenant_id, account_id in rows]
