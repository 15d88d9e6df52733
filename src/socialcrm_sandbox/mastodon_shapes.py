"""Mastodon JSON shapes: Account, Status, Notification, with Mastodon-style HTML."""

from __future__ import annotations

import html
import re
from typing import Any

from socialcrm_sandbox.mentions import PATTERNS
from socialcrm_sandbox.times import iso_z
from socialcrm_sandbox.world import Account, Post, World

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")


def link_html(url: str) -> str:
    """A link as Mastodon renders it (scheme hidden, full URL in ``href``)."""
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer me" '
        f'translate="no"><span class="invisible">{html.escape(scheme)}://</span>'
        f'<span class="">{html.escape(rest)}</span><span class="invisible"></span></a>'
    )


def mention_html(account: Account, instance: str) -> str:
    url = html.escape(profile_url(account, instance))
    return (
        f'<span class="h-card" translate="no"><a href="{url}" class="u-url mention">'
        f"@<span>{html.escape(account.handle)}</span></a></span>"
    )


def text_html(text: str, mentioned: list[Account], instance: str) -> str:
    """Escape ``text`` and turn its links and known mentions into Mastodon's markup."""
    by_handle = {a.handle.lower(): a for a in mentioned}
    tokens = re.compile(f"{_URL.pattern}|{PATTERNS['mastodon'].pattern}")
    pieces: list[str] = []
    cursor = 0
    for match in tokens.finditer(text):
        pieces.append(html.escape(text[cursor : match.start()]))
        handle = (match.group(1) or "").lower()
        if handle in by_handle:
            pieces.append(mention_html(by_handle[handle], instance))
        elif match.group(0).startswith("http"):
            pieces.append(link_html(match.group(0)))
        else:
            pieces.append(html.escape(match.group(0)))
        cursor = match.end()
    pieces.append(html.escape(text[cursor:]))
    paragraphs = "".join(pieces).split("\n\n")
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs if p)


def profile_url(account: Account, instance: str) -> str:
    user, _, host = account.handle.partition("@")
    return f"https://{host}/@{user}" if host else f"{instance}/@{user}"


def mastodon_account(account: Account, instance: str, statuses_count: int) -> dict[str, Any]:
    links = list(account.links)
    fields = [
        {
            "name": "Website" if i == 0 else f"Link {i + 1}",
            "value": link_html(link),
            "verified_at": None,
        }
        for i, link in enumerate(links)
    ]
    avatar = account.avatar_url or f"{instance}/avatars/original/missing.png"
    header = f"{instance}/headers/original/missing.png"
    url = profile_url(account, instance)
    # The Account entity's always-present attributes (docs.joinmastodon.org/entities/Account)
    return {
        "id": account.user_id,
        "username": account.handle.partition("@")[0],
        "acct": account.handle,  # user@host for a remote account, user for a local one
        "url": url,
        "uri": url,
        "display_name": account.display_name,
        "note": text_html(account.bio, [], instance) if account.bio else "",
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "locked": False,
        "bot": False,
        "group": False,
        "discoverable": True,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "followers_count": account.followers,
        "following_count": account.following,
        "statuses_count": statuses_count,
        "last_status_at": None,
        "created_at": iso_z(account.created_at),
        "fields": fields,
    }


def mastodon_status(post: Post, world: World, instance: str) -> dict[str, Any]:
    author = world.account_by_id("mastodon", post.author_id)
    if author is None:  # pragma: no cover - readable posts have live authors
        raise LookupError(post.author_id)
    mentioned = world.mentioned_accounts(post)
    parent = world.parent_of(post)
    return {
        "id": post.id,
        "created_at": iso_z(post.created_at),
        "content": text_html(post.text, mentioned, instance),
        "url": f"{profile_url(author, instance)}/{post.id}",
        "uri": f"{instance}/users/{author.handle}/statuses/{post.id}",
        "visibility": post.visibility,
        "in_reply_to_id": post.in_reply_to_id,
        "in_reply_to_account_id": parent.author_id if parent else None,
        "account": mastodon_account(
            author, instance, world.posts_count("mastodon", author.user_id)
        ),
        "mentions": [
            {
                "id": a.user_id,
                "username": a.handle,
                "acct": a.handle,
                "url": profile_url(a, instance),
            }
            for a in mentioned
        ],
        "replies_count": world.reply_count(post),
        "reblogs_count": post.metrics.reposts,
        "favourites_count": post.metrics.likes,
    }


def mastodon_notification(post: Post, world: World, instance: str) -> dict[str, Any]:
    status = mastodon_status(post, world, instance)
    return {
        "id": post.id,
        "type": "mention",
        "created_at": status["created_at"],
        "account": status["account"],
        "status": status,
    }


def link_header(base: str, query: str, newest_id: str | None, oldest_id: str | None) -> str | None:
    """Mastodon's pagination ``Link``: ``next`` goes older (max_id), ``prev`` newer (min_id)."""
    if newest_id is None or oldest_id is None:
        return None
    start = f"{base}?{query}&" if query else f"{base}?"
    return f'<{start}max_id={oldest_id}>; rel="next", <{start}min_id={newest_id}>; rel="prev"'
