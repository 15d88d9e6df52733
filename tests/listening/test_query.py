"""The rule language and the one-pass matcher: each rule type, table-driven."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.listening.matcher import CompiledRule, GeoCircle, MentionFeatures, RuleIndex
from socialcrm.listening.query import QuerySyntaxError, evaluate, parse, terms


def matches(query: str, text: str, **rule: object) -> bool:
    index = RuleIndex.build([CompiledRule(id=1, query=parse(query), **rule)])  # type: ignore[arg-type]
    return index.match(MentionFeatures(network="x", text=text)) == [1]


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("acme", "I love Acme!", True),
        ("acme", "acmes are great", False),  # whole words only
        ("acme", "loving #acme today", True),  # a keyword also finds its hashtag
        ('"battery life"', "the Battery   life is short", True),  # exact phrase, spaces folded
        ('"battery life"', "life battery", False),
        ("acme AND broken", "my acme is broken", True),
        ("acme AND broken", "my acme is fine", False),
        ("acme broken", "broken acme", True),  # juxtaposition is AND
        ("acme OR globex", "globex rocks", True),
        ("acme NOT refund", "acme refund please", False),
        ("acme -refund", "acme works", True),
        ("(acme OR globex) AND (broken OR late)", "globex delivery late", True),
        ("(acme OR globex) AND (broken OR late)", "globex delivery ok", False),
        ("#acmehelp", "need #AcmeHelp now", True),
        ("#acmehelp", "need acmehelp now", False),  # a hashtag term needs the hashtag
        ("@acme", "hey @Acme why", True),
        ("NOT spam", "anything at all", True),
        ("café", "Un CAFÉ s'il vous plaît", True),
    ],
)
def test_queries(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize("bad", ['"unclosed', "acme AND", "(acme", "acme )", "OR acme", "NOT"])
def test_syntax_errors_say_where(bad: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse(bad)


def test_empty_query_relies_on_filters() -> None:
    assert parse("   ") is None
    assert matches("", "anything", languages=frozenset({"en"})) is False
    index = RuleIndex.build([CompiledRule(id=7, query=None, languages=frozenset({"fr"}))])
    assert index.match(MentionFeatures(network="x", text="bonjour", language="fr")) == [7]


def test_structured_filters() -> None:
    rule = CompiledRule(
        id=3,
        query=parse("acme"),
        networks=frozenset({"mastodon"}),
        languages=frozenset({"en"}),
        countries=frozenset({"GB"}),
        sentiments=frozenset({"negative"}),
    )
    index = RuleIndex.build([rule])
    good = MentionFeatures(
        network="mastodon", text="acme", language="en", country="GB", sentiment="negative"
    )
    assert index.match(good) == [3]
    for change in (
        {"network": "x"},
        {"language": "fr"},
        {"country": "FR"},
        {"sentiment": "positive"},
    ):
        other = dataclasses.replace(good, **change)
        assert index.match(other) == [], change


def test_geo_point_and_radius() -> None:
    london = GeoCircle(51.5074, -0.1278, 50)
    index = RuleIndex.build([CompiledRule(id=1, query=parse("acme"), geo=london)])
    near = MentionFeatures(network="x", text="acme", lat=51.75, lon=-0.34)  # St Albans, ~30 km
    far = MentionFeatures(network="x", text="acme", lat=48.8566, lon=2.3522)  # Paris
    unknown = MentionFeatures(network="x", text="acme")
    assert index.match(near) == [1]
    assert index.match(far) == []
    assert index.match(unknown) == []  # no coordinates: a geo rule cannot match


def test_brand_account_mentions_and_accounts_listened_through() -> None:
    rule = CompiledRule(
        id=1, query=None, brand_handles=frozenset({"@acme"}), brand_account_ids=frozenset({5})
    )
    index = RuleIndex.build([rule])
    assert index.match(MentionFeatures(network="x", text="hi @acme")) == [1]
    assert index.match(MentionFeatures(network="x", text="hi acme")) == []
    assert index.match(MentionFeatures(network="x", text="no handle", account_id=5)) == [1]
    through = RuleIndex.build([CompiledRule(id=2, query=parse("acme"), account_ids=frozenset({9}))])
    assert through.match(MentionFeatures(network="x", text="acme", account_id=9)) == [2]
    assert through.match(MentionFeatures(network="x", text="acme", account_id=8)) == []


def test_one_pass_over_many_rules_returns_each_matching_rule() -> None:
    rules = [CompiledRule(id=i, query=parse(f"word{i} OR shared")) for i in range(1, 501)]
    index = RuleIndex.build(rules)
    assert index.match(MentionFeatures(network="x", text="word7 and word300")) == [7, 300]
    assert len(index.match(MentionFeatures(network="x", text="shared"))) == 500


words = st.sampled_from(["acme", "globex", "broken", "refund", "late"])


@given(st.lists(words, min_size=1, max_size=4), st.sets(words))
def test_and_or_not_agree_with_python(chosen: list[str], present: set[str]) -> None:
    assert evaluate(parse(" AND ".join(chosen)), present) is all(w in present for w in chosen)
    assert evaluate(parse(" OR ".join(chosen)), present) is any(w in present for w in chosen)
    assert evaluate(parse(f"NOT ({' OR '.join(chosen)})"), present) is not any(
        w in present for w in chosen
    )
    assert terms(parse(" OR ".join(chosen))) == set(chosen)
