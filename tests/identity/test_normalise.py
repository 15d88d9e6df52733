"""Normalisation and skeletons: table-driven cases and hypothesis properties."""

from __future__ import annotations

import string
import unicodedata

import pytest
from confusable_homoglyphs import confusables  # type: ignore[import-untyped]
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from socialcrm.core.db import Database
from socialcrm.identity import resolve
from socialcrm.identity.homoglyphs import confusable, skeleton
from socialcrm.identity.normalise import ImpossibleHandle, normalise_handle
from socialcrm.identity.schemas import ResolveIn, ResolveOut
from tests.identity.conftest import make_contact

CASES = [
    # (input, channel, stored handle, canonical url)
    ("  @John_Doe ", "x", "john_doe", "https://x.com/john_doe"),
    ("https://twitter.com/John_Doe?ref=abc", "twitter", "john_doe", "https://x.com/john_doe"),
    ("x.com/john_doe/media", "x", "john_doe", "https://x.com/john_doe"),
    (
        "\uff2a\uff2f\uff28\uff2e\uff3f\uff24\uff2f\uff25",
        "x",
        "john_doe",
        "https://x.com/john_doe",
    ),  # NFKC: full-width
    ("@Ada@Mastodon.Social", "mastodon", "ada@mastodon.social", "https://mastodon.social/@ada"),
    (
        "https://mastodon.social/@ada",
        "mastodon",
        "ada@mastodon.social",
        "https://mastodon.social/@ada",
    ),
    ("@Ada.BSKY.social", "bluesky", "ada.bsky.social", "https://bsky.app/profile/ada.bsky.social"),
    (
        "https://www.linkedin.com/company/Acme/",
        "linkedin",
        "company/acme",
        "https://www.linkedin.com/company/acme",
    ),
    (
        "UCabcdefghijklmnopqrstuv",
        "youtube",
        "UCabcdefghijklmnopqrstuv",
        "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
    ),
]


@pytest.mark.parametrize(("text", "channel", "handle", "url"), CASES)
def test_normalise(text: str, channel: str, handle: str, url: str) -> None:
    n = normalise_handle(text, channel)
    assert (n.handle, n.url) == (handle, url)


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("", "x"),
        ("   ", "x"),
        ("a" * 16, "x"),
        ("jane doe", "x"),
        ("ada", "mastodon"),
        ("https://x.com/home", "x"),
        ("@ada", "nope"),
    ],
)
def test_impossible(text: str, channel: str) -> None:
    with pytest.raises(ImpossibleHandle):
        normalise_handle(text, channel)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("j0hn_doe", "john_doe"),
        ("j\u043ehn_doe", "john_doe"),
        ("paypa1", "paypal"),
        ("rnary", "mary"),
        ("JOHN", "john"),
    ],
)
def test_confusable_pairs(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize(
    ("a", "b"), [("john_doe", "jane_doe"), ("ada", "adb"), ("j\u00f6hn", "john")]
)
def test_distinct_names_are_not_confusable(a: str, b: str) -> None:
    assert not confusable(a, b)


X_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=15)
DECORATION = st.sampled_from(
    ["", "@", " ", "  @", "https://x.com/", "https://twitter.com/", "x.com/"]
)


@given(name=X_NAMES, prefix=DECORATION)
def test_normalising_is_idempotent(name: str, prefix: str) -> None:
    try:
        once = normalise_handle(prefix + name, "x")
    except ImpossibleHandle:
        assume(False)
        raise
    assert normalise_handle(once.handle, "x") == once
    assert normalise_handle(once.url, "x") == once
    assert skeleton(once.skeleton) == once.skeleton


@given(
    user=st.text(alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=30),
    host=st.sampled_from(["mastodon.social", "Fosstodon.org", "hachyderm.io"]),
)
def test_mastodon_forms_agree(user: str, host: str) -> None:
    forms = [f"@{user}@{host}", f"{user}@{host}", f"https://{host}/@{user}"]
    results = {normalise_handle(f, "mastodon") for f in forms}
    assert len(results) == 1
    (one,) = results
    assert normalise_handle(one.handle, "mastodon") == one


@given(text=st.text(max_size=40))
def test_skeleton_is_idempotent(text: str) -> None:
    assert skeleton(skeleton(text)) == skeleton(text)


KNOWN = "pascal_molio"  # a customer's X handle with many swappable letters


def _look_alikes_of(letter: str) -> list[str]:
    """Every single character the Unicode confusables data lists as looking like ``letter``
    (and not merely a compatibility form of it, which NFKC folds into the same handle)."""
    glyphs = [g["c"].strip("\u200e\u200f") for g in confusables.confusables_data.get(letter, [])]
    return sorted(
        g
        for g in glyphs
        if len(g) == 1
        and unicodedata.normalize("NFKC", g).casefold() != letter
        and skeleton(g) == skeleton(letter)
    )


SWAPS = {ch: _look_alikes_of(ch) for ch in set(KNOWN) if _look_alikes_of(ch)}


@st.composite
def spoofs(draw: st.DrawFn) -> str:
    positions = [i for i, ch in enumerate(KNOWN) if ch in SWAPS]
    chosen = draw(st.lists(st.sampled_from(positions), min_size=1, max_size=4, unique=True))
    chars = list(KNOWN)
    for i in chosen:
        chars[i] = draw(st.sampled_from(SWAPS[KNOWN[i]]))
    return "".join(chars)


def test_the_data_offers_look_alikes_for_most_letters() -> None:
    assert {"a", "c", "l", "o", "p", "s", "i"} <= set(SWAPS)
    assert "\u043e" in SWAPS["o"]  # Cyrillic o


def test_confusable_pairs_never_auto_resolve(database: Database, tenant_id: int) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": KNOWN}])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(spoof=spoofs(), user_id=st.one_of(st.none(), st.integers(1, 10**12).map(str)))
    def check(spoof: str, user_id: str | None) -> None:
        assume(unicodedata.normalize("NFKC", spoof).casefold() != KNOWN)
        with database.session(tenant_id=tenant_id) as session:
            answer = _resolve(session, tenant_id, spoof, user_id)
            assert answer.resolved is False
            assert answer.customer_id is None
            assert answer.reason in {f"confusable_with:{KNOWN}", "rejected_in_review"}
            session.rollback()

    check()


def _resolve(session: Session, tenant_id: int, handle: str, user_id: str | None) -> ResolveOut:
    return resolve.resolve(
        session, tenant_id, ResolveIn(handle=handle, channel="x", user_id=user_id), actor="test"
    )
