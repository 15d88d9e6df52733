"""The simulated world: people's accounts, posts, mentions and DMs, in memory and thread-safe.

Reads never return private posts, posts of removed accounts, or removed accounts themselves;
that rule lives here so no endpoint can forget it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from socialcrm_sandbox.mentions import mentioned_handles
from socialcrm_sandbox.schema import AccountSpec, Network, PersonSpec, PostSpec, WorldSpec
from socialcrm_sandbox.times import Clock, as_utc, from_epoch

Visibility = Literal["public", "unlisted", "private", "direct"]
Origin = Literal["world", "api", "sandbox"]
Reason = Literal["mention", "reply"]


@dataclass(frozen=True)
class Account:
    network: Network
    user_id: str
    handle: str
    display_name: str
    bio: str
    headline: str | None
    avatar_url: str | None
    followers: int
    following: int
    links: tuple[str, ...]
    created_at: datetime
    email_visible: bool
    removed: bool
    app_password: str | None
    person_name: str
    emails: tuple[str, ...]
    company: str | None
    location: str | None
    website: str | None
    account_type: str | None = None
    admins: tuple[str, ...] = ()  # handles of the accounts that administer it

    def administered_by(self, handle: str) -> bool:
        return handle.lower() in (a.lower() for a in self.admins)


@dataclass(frozen=True)
class Metrics:
    likes: int = 0
    reposts: int = 0
    quotes: int = 0
    impressions: int = 0


@dataclass(frozen=True)
class Post:
    id: str
    network: Network
    author_id: str
    text: str
    created_at: datetime
    visibility: Visibility
    in_reply_to_id: str | None
    metrics: Metrics
    origin: Origin

    @property
    def public(self) -> bool:
        return self.visibility in ("public", "unlisted")


@dataclass(frozen=True)
class Notice:
    """Something that lands in an account's mentions/notifications timeline."""

    post: Post
    reason: Reason


@dataclass(frozen=True)
class DirectMessage:
    id: str
    network: Network
    conversation_id: str
    sender_id: str
    recipient_id: str
    text: str
    created_at: datetime


Key = tuple[Network, str]


@dataclass
class _Indexes:
    accounts: dict[Key, Account] = field(default_factory=dict)
    handles: dict[Key, str] = field(default_factory=dict)
    posts: dict[Key, Post] = field(default_factory=dict)
    by_author: dict[Key, list[str]] = field(default_factory=dict)
    mentions: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    inbox: dict[Key, list[Notice]] = field(default_factory=dict)
    replies: dict[Key, int] = field(default_factory=dict)
    dms: list[DirectMessage] = field(default_factory=list)
    created: list[Post] = field(default_factory=list)
    convos: dict[str, tuple[str, ...]] = field(default_factory=dict)
    next_id: int = 1


def account_from_spec(person: PersonSpec, spec: AccountSpec) -> Account:
    return Account(
        network=spec.network,
        user_id=spec.user_id,
        handle=spec.handle,
        display_name=spec.display_name or person.name,
        bio=spec.bio,
        headline=spec.headline,
        avatar_url=spec.avatar_url,
        followers=spec.followers,
        following=spec.following,
        links=tuple(spec.links),
        created_at=as_utc(spec.created_at),
        email_visible=spec.email_visible,
        removed=spec.removed,
        app_password=spec.app_password,
        person_name=person.name,
        emails=tuple(person.emails),
        company=person.company,
        location=person.location,
        website=person.website,
        account_type=spec.kind(),
        admins=tuple(spec.admins),
    )


def post_from_spec(network: Network, author_id: str, spec: PostSpec) -> Post:
    return Post(
        id=spec.id,
        network=network,
        author_id=author_id,
        text=spec.text,
        created_at=as_utc(spec.created_at),
        visibility="public" if spec.public else "private",
        in_reply_to_id=spec.in_reply_to_id,
        metrics=Metrics(
            spec.like_count, spec.repost_count, spec.quote_count, spec.impression_count
        ),
        origin="world",
    )


def notice_reason(network: Network, mentioned: bool, replied_to_me: bool) -> Reason | None:
    """How each network files a post that mentions or replies to an account.

    X lists replies in the mentions timeline, Bluesky files them as ``reply``, and Mastodon
    notifies only on an explicit mention.
    """
    if network == "bluesky" and replied_to_me:
        return "reply"
    if network in _NO_MENTIONS:
        return None
    if mentioned or (network == "x" and replied_to_me):
        return "mention"
    return None


# Networks whose APIs have no mentions timeline (tags, for Facebook and Instagram, are).
_NO_MENTIONS: frozenset[Network] = frozenset({"linkedin", "youtube", "tiktok"})


class World:
    """Accounts and content of all networks; every public method takes the shared lock."""

    def __init__(self, spec: WorldSpec, lock: threading.Lock, clock: Clock) -> None:
        self._lock = lock
        self._clock = clock
        self._ix = _Indexes()
        self.load(spec)

    # -- loading -------------------------------------------------------------------------

    def load(self, spec: WorldSpec) -> None:
        ix = _Indexes()
        world_posts: list[Post] = []
        for person in spec.people:
            for account_spec in person.accounts:
                account = account_from_spec(person, account_spec)
                key = (account.network, account.user_id)
                ix.accounts[key] = account
                ix.handles[(account.network, account.handle.lower())] = account.user_id
                ix.by_author[key] = []
                world_posts += [
                    post_from_spec(account.network, account.user_id, p) for p in account_spec.posts
                ]
        world_posts.sort(key=lambda p: int(p.id))
        for post in world_posts:
            _index_post(ix, post)
        ix.next_id = max((int(p.id) for p in world_posts), default=1000) + 1
        with self._lock:
            self._ix = ix

    # -- accounts ------------------------------------------------------------------------

    def account_by_id(self, network: Network, user_id: str) -> Account | None:
        with self._lock:
            return _live(self._ix.accounts.get((network, user_id)))

    def account_by_handle(self, network: Network, handle: str) -> Account | None:
        with self._lock:
            user_id = self._ix.handles.get((network, handle.lower()))
            return _live(self._ix.accounts.get((network, user_id or "")))

    def accounts(self, network: Network) -> list[Account]:
        with self._lock:
            return [a for (n, _), a in self._ix.accounts.items() if n == network and not a.removed]

    def search_accounts(self, network: Network, query: str) -> list[Account]:
        """Accounts whose name, display name or handle contains ``query`` (case-insensitive)."""
        needle = query.strip().lower()
        if not needle:
            return []
        return [
            a
            for a in self.accounts(network)
            if any(needle in s.lower() for s in (a.handle, a.display_name, a.person_name))
        ]

    # -- posts ---------------------------------------------------------------------------

    def post(self, network: Network, post_id: str) -> Post | None:
        """A post anyone may read, or None."""
        with self._lock:
            return self._readable(self._ix.posts.get((network, post_id)))

    def posts_by(self, network: Network, author_id: str) -> list[Post]:
        """The author's readable posts, newest first."""
        with self._lock:
            ids = self._ix.by_author.get((network, author_id), [])
            found = (self._readable(self._ix.posts[(network, i)]) for i in reversed(ids))
            return [p for p in found if p is not None]

    def notices_for(
        self, network: Network, user_id: str, *, addressed: bool = False
    ) -> list[Notice]:
        """Readable posts that mention or reply to the account, newest first; with
        ``addressed`` also non-public ones (a Mastodon direct post notifies whom it names)."""
        with self._lock:
            notices = reversed(self._ix.inbox.get((network, user_id), []))
            return [
                n
                for n in notices
                if self._readable(n.post) is not None
                or (addressed and self._readable(replace(n.post, visibility="public")))
            ]

    def mentioned_accounts(self, post: Post) -> list[Account]:
        with self._lock:
            ids = self._ix.mentions.get((post.network, post.id), ())
            found = (_live(self._ix.accounts.get((post.network, i))) for i in ids)
            return [a for a in found if a is not None]

    def parent_of(self, post: Post) -> Post | None:
        """The post replied to, whatever its visibility (X still names its author)."""
        if post.in_reply_to_id is None:
            return None
        with self._lock:
            return self._ix.posts.get((post.network, post.in_reply_to_id))

    def thread_root(self, post: Post) -> Post:
        with self._lock:
            root, seen = post, {post.id}
            while root.in_reply_to_id and root.in_reply_to_id not in seen:
                parent = self._ix.posts.get((post.network, root.in_reply_to_id))
                if parent is None:
                    break
                seen.add(parent.id)
                root = parent
            return root

    def replies_to(self, network: Network, post_id: str) -> list[Post]:
        """Readable direct replies to a post, newest first (YouTube's comment threads)."""
        with self._lock:
            found = (
                self._readable(p)
                for (n, _), p in self._ix.posts.items()
                if n == network and p.in_reply_to_id == post_id
            )
            return sorted((p for p in found if p is not None), key=lambda p: -int(p.id))

    def reply_count(self, post: Post) -> int:
        with self._lock:
            return self._ix.replies.get((post.network, post.id), 0)

    def posts_count(self, network: Network, author_id: str) -> int:
        return len(self.posts_by(network, author_id))

    # -- writes --------------------------------------------------------------------------

    def add_post(
        self,
        network: Network,
        author_id: str,
        text: str,
        *,
        visibility: Visibility = "public",
        in_reply_to_id: str | None = None,
        origin: Origin = "api",
    ) -> Post:
        with self._lock:
            post = Post(
                id=self._take_id(),
                network=network,
                author_id=author_id,
                text=text,
                created_at=from_epoch(self._clock()),
                visibility=visibility,
                in_reply_to_id=in_reply_to_id,
                metrics=Metrics(),
                origin=origin,
            )
            _index_post(self._ix, post)
            self._ix.created.append(post)
            return post

    def add_dm(
        self, network: Network, sender_id: str, recipient_id: str, text: str, conversation_id: str
    ) -> DirectMessage:
        with self._lock:
            dm = DirectMessage(
                id=self._take_id(),
                network=network,
                conversation_id=conversation_id,
                sender_id=sender_id,
                recipient_id=recipient_id,
                text=text,
                created_at=from_epoch(self._clock()),
            )
            self._ix.dms.append(dm)
            return dm

    def open_convo(self, network: Network, member_ids: list[str]) -> str:
        """The conversation id for exactly these members (the same members, the same id)."""
        members = tuple(sorted(set(member_ids)))
        convo_id = hashlib.sha256(f"{network}:{','.join(members)}".encode()).hexdigest()[:16]
        with self._lock:
            self._ix.convos[convo_id] = members
        return convo_id

    def convo_members(self, convo_id: str) -> tuple[str, ...] | None:
        with self._lock:
            return self._ix.convos.get(convo_id)

    def created_posts(self, network: Network | None = None, origin: Origin = "api") -> list[Post]:
        with self._lock:
            return [
                p
                for p in self._ix.created
                if p.origin == origin and (network is None or p.network == network)
            ]

    def dms(self, network: Network | None = None) -> list[DirectMessage]:
        with self._lock:
            return [d for d in self._ix.dms if network is None or d.network == network]

    # -- internals (caller holds the lock) -----------------------------------------------

    def _take_id(self) -> str:
        value = self._ix.next_id
        self._ix.next_id += 1
        return str(value)

    def _readable(self, post: Post | None) -> Post | None:
        if post is None or not post.public:
            return None
        author = self._ix.accounts.get((post.network, post.author_id))
        return post if author is not None and not author.removed else None


def _live(account: Account | None) -> Account | None:
    return account if account is not None and not account.removed else None


def _index_post(ix: _Indexes, post: Post) -> None:
    """Add a post (ids only grow, so appending keeps every list in id order)."""
    key = (post.network, post.id)
    ix.posts[key] = post
    ix.by_author.setdefault((post.network, post.author_id), []).append(post.id)
    handles = mentioned_handles(post.network, post.text)
    mentioned = [ix.handles[(post.network, h)] for h in handles if (post.network, h) in ix.handles]
    ix.mentions[key] = tuple(mentioned)
    parent = ix.posts.get((post.network, post.in_reply_to_id)) if post.in_reply_to_id else None
    if parent is not None and post.public:
        ix.replies[(post.network, parent.id)] = ix.replies.get((post.network, parent.id), 0) + 1
    targets = {*mentioned, *([parent.author_id] if parent else [])} - {post.author_id}
    for user_id in targets:
        reason = notice_reason(
            post.network, user_id in mentioned, parent is not None and parent.author_id == user_id
        )
        if reason is not None:
            ix.inbox.setdefault((post.network, user_id), []).append(Notice(post, reason))
