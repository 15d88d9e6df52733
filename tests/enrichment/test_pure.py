"""Pure parts: confidence scoring, decisions, pacing, policy, lookup keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from socialcrm.enrichment.keys import contact_keys, handle_key, phone_key
from socialcrm.enrichment.matching import ContactWork, Refreshes
from socialcrm.enrichment.models import LinkStatus, SocialProfileLink
from socialcrm.enrichment.pacing import RESET_MARGIN, Pacer, pause_for
from socialcrm.enrichment.policy import EnrichmentPolicy, policy_from
from socialcrm.enrichment.scoring import (
    WEIGHTS,
    Candidate,
    ContactFacts,
    confidence,
    decide,
    score,
)
from socialcrm.enrichment.store import apply_contact, nothing_to_store
from socialcrm.providers.base import ProfileData, RateBudget

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ADA = ContactFacts(
    name="Ada Lovelace",
    emails=("ada@analytical.co.uk",),
    company="Analytical Engines Ltd",
    website="https://www.ada.example.com/about",
    location="London, UK",
    handles={"x": frozenset({"ada"})},
)


def profile(**kw: object) -> ProfileData:
    values: dict[str, object] = {"network": "x", "user_id": "1", "handle": "someone"} | kw
    return ProfileData(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("candidate", "signals"),
    [
        (Candidate(profile(handle="ada"), {"handle"}), {"handle"}),
        (Candidate(profile(), {"email"}, verified_email="ada@x.example"), {"email"}),
        (Candidate(profile(display_name="Ada Lovelace")), {"name"}),
        (Candidate(profile(display_name="Bob")), set()),
        (Candidate(profile(links=("https://ada.example.com",))), {"domain"}),
        (Candidate(profile(bio="see https://blog.analytical.co.uk")), {"domain"}),
        (Candidate(profile(bio="Engineer at Analytical Engines")), {"company"}),
        (Candidate(profile(location="London")), {"location"}),
        (Candidate(profile(links=("https://gmail.com",))), set()),
    ],
)
def test_each_signal_is_found_and_explained(candidate: Candidate, signals: set[str]) -> None:
    scored = score(ADA, candidate)
    assert {s["signal"] for s in scored.signals} == signals
    assert all(s["detail"] for s in scored.signals)


def test_free_mail_domains_say_nothing() -> None:
    facts = ContactFacts(name="X", emails=("x@gmail.com",))
    assert score(facts, Candidate(profile(links=("https://mail.gmail.com",)))).signals == []


signal_lists = st.lists(
    st.builds(
        lambda name, s: {"signal": name, "score": s, "weight": WEIGHTS[name]},
        st.sampled_from(sorted(WEIGHTS)),
        st.floats(0, 1),
    ),
    max_size=8,
)


@given(signal_lists, signal_lists)
def test_confidence_is_bounded_and_more_evidence_never_lowers_it(
    a: list[dict[str, object]], b: list[dict[str, object]]
) -> None:
    ca = confidence(a)  # type: ignore[arg-type]
    assert 0.0 <= ca <= 1.0
    assert confidence(a + b) >= ca - 1e-9  # type: ignore[arg-type]


def test_decisions_link_only_a_unique_strong_candidate() -> None:
    strong = score(ADA, Candidate(profile(handle="ada", display_name="Ada Lovelace")))
    weak = score(
        ADA, Candidate(profile(user_id="2", display_name="Ada Lovelace", location="London"))
    )
    tiny = score(ADA, Candidate(profile(user_id="3", display_name="Ada L")))
    got = {d.profile.user_id: d.status for d in decide([strong, weak, tiny], 0.9, 0.5)}
    assert got == {"1": "linked", "2": "suggested"}
    twin = score(ADA, Candidate(profile(user_id="4", handle="ada", display_name="Ada Lovelace")))
    both = decide([strong, twin], 0.9, 0.5)
    assert {d.status for d in both} == {"suggested"}  # ambiguous: a person decides
    assert all("ambiguous" in d.signals for d in both)


def test_pause_spreads_the_last_of_the_budget_and_waits_for_the_reset() -> None:
    reset = NOW + timedelta(seconds=100)
    assert pause_for(None, NOW) == timedelta(0)
    assert pause_for(RateBudget(100, 90, reset), NOW) == timedelta(0)  # plenty left
    assert pause_for(RateBudget(100, 10, reset), NOW) == timedelta(seconds=10)
    assert pause_for(RateBudget(100, 10, reset), NOW, inflight=5) == timedelta(seconds=20)
    assert pause_for(RateBudget(100, 0, reset), NOW) == timedelta(seconds=100) + RESET_MARGIN
    assert pause_for(RateBudget(100, 0, NOW - timedelta(seconds=1)), NOW) == timedelta(0)


def test_pacer_survives_a_round_trip_through_json() -> None:
    pacer = Pacer()
    pacer.learn("lookup_handle", RateBudget(10, 3, NOW))
    pacer.spent("search", NOW + timedelta(seconds=5))
    again = Pacer.load(pacer.dump())
    assert again.budgets == pacer.budgets
    assert Pacer.load("junk").budgets == {}


def test_policy_defaults_and_bad_values() -> None:
    assert policy_from(None) == EnrichmentPolicy()
    custom = policy_from({"enrichment": {"auto_link_threshold": 0.95, "suggest_threshold": 0.6}})
    assert (custom.auto_link_threshold, custom.suggest_threshold) == (0.95, 0.6)
    assert policy_from({"enrichment": {"auto_link_threshold": "high"}}) == EnrichmentPolicy()
    crossed = policy_from({"enrichment": {"auto_link_threshold": 0.3, "suggest_threshold": 0.6}})
    assert crossed == EnrichmentPolicy()
    # Stored before the product's bounds were enforced: read back inside them.
    loose = policy_from({"enrichment": {"auto_link_threshold": 0.8, "suggest_threshold": 0.2}})
    assert loose == EnrichmentPolicy()
    assert policy_from({"enrichment": {"auto_link_threshold": 0.85}}) == EnrichmentPolicy()
    assert EnrichmentPolicy().may_fetch_posts(False) is False
    assert EnrichmentPolicy(restrict_without_consent=False).may_fetch_posts(False) is True


def test_lookup_keys_are_normalised() -> None:
    assert phone_key("+44 20 7946 0958") == phone_key("00442079460958") == "+442079460958"
    assert handle_key(" @Ada ") == "ada"
    assert contact_keys(["Ada@Example.com"], [], [{"network": "x", "handle": "@Ada"}]) == {
        ("email", "ada@example.com"),
        ("handle", "ada"),
    }


def test_a_contact_with_no_candidate_and_no_link_has_nothing_to_store() -> None:
    """The shortcut ``apply_batch`` takes (no savepoint, no flush) skips exactly the Contacts
    whose ``apply_contact`` writes nothing."""
    work = ContactWork(7, ADA)
    session = Session()  # unbound: any query or write would show
    counts = apply_contact(session, work, [], [], Refreshes(), EnrichmentPolicy(), {"x"}, {}, NOW)
    assert nothing_to_store([], [])
    assert (counts.processed, counts.linked, counts.suggested, counts.stale) == (1, 0, 0, 0)
    assert not session.new and not session.dirty and not session.deleted
    assert not nothing_to_store([Candidate(profile())], [])
    assert not nothing_to_store([], [SocialProfileLink(contact_id=7)])


@pytest.mark.parametrize(("network", "status"), [("facebook", "suggested"), ("x", "linked")])
def test_a_certain_match_beside_a_linked_profile(network: str, status: str) -> None:
    """Where a person has one profile (Facebook: the adapter says so), the automatic search
    never links a second one: a person decides whether it replaces the first. Where people
    have several (X), it is linked."""
    facts = ContactFacts(name="Ada Lovelace", handles={network: frozenset({"ada.page"})})
    held = SocialProfileLink(
        contact_id=7, provider=network, external_user_id="1", status=LinkStatus.LINKED
    )
    found = profile(network=network, user_id="2", handle="ada.page")
    strong = Candidate(found, {"handle"}, verified_email="ada@analytical.co.uk")
    known = Refreshes(profiles={(network, "1"): profile(network=network, user_id="1")})
    session = Session()  # unbound: adds only, no query
    work = ContactWork(7, facts)
    apply_contact(session, work, [strong], [held], known, EnrichmentPolicy(), {network}, {}, NOW)
    added = [o for o in session.new if isinstance(o, SocialProfileLink)]
    assert [(lk.external_user_id, lk.status) for lk in added] == [("2", status)]
    assert ("replaces" in added[0].signals) == (status == "suggested")
