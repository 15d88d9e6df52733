"""Our VADER compound equals the library's: the rewrite only removes repeated work."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

from socialcrm.listening import analysis

STOCK = SentimentIntensityAnalyzer()
OURS = analysis._get_vader()

# Negations, "never so", "without doubt", "least", "but", caps, boosters and idioms: every
# branch of the negation check and its neighbours.
PHRASES = [
    "I don't love it",
    "not good at all",
    "never so happy with a phone",
    "never this bad, honestly",
    "it was never really so good",
    "without doubt the best service",
    "without any doubt great",
    "the least helpful support",
    "at least it works",
    "very least bad",
    "I can't say it is great",
    "nobody is happy, nothing works, neither option is good",
    "the food was great but the service was terrible",
    "GREAT product, terrible box",
    "kind of good, sort of bad",
    "it's the bomb, cut me some slack",
    "yeah right, the kiss of death for a broken heart",
    "this cake is to die for, the shit, bad ass",
    "sort of great, kind of awful",
    "well it is kind of good",
    "honestly it is sort of bad",
    "i think it was the bomb really",
    "we all know it was the shit",
    "oh well yeah right great",
    "no problem, no worries, no good",
    "not bad",
    "ain't nothing wrong",
    "Acme support fixed my issue in five minutes. Amazing service!!!",
    "I hate waiting on hold for an hour 😡",
    "J'adore mon nouveau téléphone 😍",
    "",
    "good",
    "not",
]
WORDS = [
    "not",
    "never",
    "so",
    "this",
    "without",
    "doubt",
    "least",
    "at",
    "very",
    "but",
    "no",
    "nor",
    "good",
    "bad",
    "GREAT",
    "terrible",
    "love",
    "hate",
    "don't",
    "isn't",
    "kind",
    "of",
    "really",
    "the",
    "service",
    ":)",
    "😡",
    "!!",
    "?",
    "bomb",
    "shit",
    "ass",
    "yeah",
    "right",
    "kiss",
    "death",
    "to",
    "die",
    "for",
    "sort",
    "broken",
    "heart",
    "bus",
    "stop",
]


def test_compound_equals_the_library_on_every_negation_branch() -> None:
    for text in PHRASES:
        assert OURS.compound(text) == STOCK.polarity_scores(text)["compound"], text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join))
def test_compound_equals_the_library_on_generated_text(text: str) -> None:
    assert OURS.compound(text) == STOCK.polarity_scores(text)["compound"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_compound_equals_the_library_on_any_text(text: str) -> None:
    assert OURS.compound(text) == STOCK.polarity_scores(text)["compound"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*WORDS, "😍", "🙂", "x😡y", "GOOD!", "Bad.", "no,", "(love)", "??", "!"]),
        max_size=20,
    ).map(" ".join)
)
def test_pipeline_scorer_equals_the_library(text: str) -> None:
    assert analysis._vader_score(text) == STOCK.polarity_scores(text)["compound"]
