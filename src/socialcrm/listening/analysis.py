"""Language (lingua) and sentiment (VADER) of short social text; offline and fast.

Language: lingua in low-accuracy mode over the languages most social traffic is in (see
``LANGUAGES``); it is built for short text and costs ~60 µs a mention on one core. A language a
network itself declares wins over detection. Handles, links and ``#`` are removed first.

Sentiment: VADER's compound score for English (label positive ≥ 0.05, negative ≤ -0.05). VADER's
lexicon is English, so for any other language we score only the language-neutral signals it
knows (emoji and emoticons such as ``:(`` or ``😡``) and report ``method="emoji"``; a text with
none of them is neutral with ``method="none"``. A per-language lexicon (e.g. a translated VADER
lexicon) plugs in through ``LEXICON_SCORERS`` without touching callers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

LANGUAGES = (
    Language.ENGLISH,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.FRENCH,
    Language.GERMAN,
    Language.ITALIAN,
    Language.DUTCH,
    Language.POLISH,
    Language.TURKISH,
    Language.RUSSIAN,
    Language.ARABIC,
    Language.HINDI,
    Language.INDONESIAN,
    Language.JAPANESE,
    Language.KOREAN,
    Language.CHINESE,
)
UNDETERMINED = "und"
POSITIVE, NEGATIVE = 0.05, -0.05

_NOISE = re.compile(r"https?://\S+|(?<!\w)@[\w.\-]+|#")
_LETTERS = re.compile(r"[^\W\d_]")
_EMOTICON = re.compile(r"(?<!\S)[:;=xX8][-']?[()\[\]dDpP/\\|oO3*]+(?!\S)|<3")
_lock = threading.Lock()
_detector: LanguageDetector | None = None
_vader: SentimentIntensityAnalyzer | None = None


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # -1 … 1
    label: str  # positive | neutral | negative
    method: str  # vader | emoji | none


def _get_detector() -> LanguageDetector:
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                _detector = (
                    LanguageDetectorBuilder.from_languages(*LANGUAGES)
                    .with_low_accuracy_mode()
                    .with_preloaded_language_models()
                    .build()
                )
    return _detector


_NEGATE = frozenset(NEGATE)


def _negated(word: str) -> bool:
    """vaderSentiment's ``negated([word])`` for one lower-cased word."""
    return word in _NEGATE or "n't" in word


class _Vader(SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER, scoring exactly as the library does, without its quadratic step.

    The library's ``_negation_check`` and ``_special_idioms_check`` lower-case every word of
    the text on each call, for each word it scores and each of the three words before it.
    These overrides lower-case only the (at most four) words they read; the rules are the
    library's, line for line.
    ``tests/listening/test_analysis.py`` checks the scores equal the library's.
    """

    @staticmethod
    def _negation_check(
        valence: float, words_and_emoticons: list[str], start_i: int, i: int
    ) -> float:
        def low(k: int) -> str:
            return str(words_and_emoticons[k]).lower()

        if start_i == 0 and _negated(low(i - 1)):
            valence = valence * N_SCALAR
        if start_i == 1:
            if low(i - 2) == "never" and (low(i - 1) == "so" or low(i - 1) == "this"):
                valence = valence * 1.25
            elif low(i - 2) == "without" and low(i - 1) == "doubt":
                pass
            elif _negated(low(i - 2)):
                valence = valence * N_SCALAR
        if start_i == 2:
            if (low(i - 3) == "never" and (low(i - 2) == "so" or low(i - 2) == "this")) or (
                low(i - 1) == "so" or low(i - 1) == "this"
            ):
                valence = valence * 1.25
            elif low(i - 3) == "without" and (low(i - 2) == "doubt" or low(i - 1) == "doubt"):
                pass
            elif _negated(low(i - 3)):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, words_and_emoticons: list[str], i: int) -> float:
        def low(k: int) -> str:
            return str(words_and_emoticons[k]).lower()

        w3, w2, w1, w0 = low(i - 3), low(i - 2), low(i - 1), low(i)
        onezero, twoonezero, twoone = f"{w1} {w0}", f"{w2} {w1} {w0}", f"{w2} {w1}"
        threetwoone, threetwo = f"{w3} {w2} {w1}", f"{w3} {w2}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in SPECIAL_CASES:
                valence = SPECIAL_CASES[seq]
                break
        size = len(words_and_emoticons)
        if size - 1 > i:
            zeroone = f"{w0} {low(i + 1)}"
            if zeroone in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroone]
        if size - 1 > i + 1:
            zeroonetwo = f"{w0} {low(i + 1)} {low(i + 2)}"
            if zeroonetwo in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroonetwo]
        # booster/dampener bi-grams such as "sort of" or "kind of"
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
        return valence


def _get_vader() -> SentimentIntensityAnalyzer:
    global _vader
    if _vader is None:
        with _lock:
            if _vader is None:
                _vader = _Vader()
    return _vader


def warm_up() -> None:
    """Load the models now rather than in the first request."""
    _get_detector()
    _get_vader()


def detect_language(text: str, declared: str = "") -> str:
    """ISO 639-1 code, the network's own declaration if it gave one, else ``und``."""
    if declared and declared.isalpha() and 2 <= len(declared) <= 3:
        return declared.lower()
    cleaned = _NOISE.sub(" ", text)
    if len(_LETTERS.findall(cleaned)) < 3:
        return UNDETERMINED
    language = _get_detector().detect_language_of(cleaned)
    return language.iso_code_639_1.name.lower() if language is not None else UNDETERMINED


def label_for(score: float) -> str:
    if score >= POSITIVE:
        return "positive"
    if score <= NEGATIVE:
        return "negative"
    return "neutral"


def _neutral_signals(text: str) -> str:
    """Emoji and emoticons: what VADER knows that does not depend on the language."""
    lexicon = _get_vader().emojis
    emoji = [ch for ch in text if ch in lexicon]
    emoticons = _EMOTICON.findall(text)
    return " ".join([*emoji, *emoticons])


_WORD = re.compile(r"[^\s]+")
_STRIP = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _carries_sentiment(text: str) -> bool:
    """Whether any token is in VADER's lexicon (or is an emoji it knows). Without one VADER's
    compound is exactly 0, so the (pure Python, per-word) scorer is skipped: an exact shortcut."""
    vader = _get_vader()
    lexicon, emojis = vader.lexicon, vader.emojis
    for token in _WORD.findall(text.lower()):
        if token in lexicon or token.strip(_STRIP) in lexicon:
            return True
        if any(ch in emojis for ch in token if not ch.isascii()):
            return True
    return False


def _vader_score(text: str) -> float:
    if not _carries_sentiment(text):
        return 0.0
    return float(_get_vader().polarity_scores(text)["compound"])


# language code -> scorer of text in that language; English uses VADER itself.
LEXICON_SCORERS: dict[str, Callable[[str], float]] = {"en": _vader_score}


def score_sentiment(text: str, language: str) -> Sentiment:
    scorer = LEXICON_SCORERS.get(language)
    if scorer is not None:
        score = scorer(text)
        return Sentiment(round(score, 4), label_for(score), "vader")
    signals = _neutral_signals(text)
    if not signals:
        return Sentiment(0.0, "neutral", "none")
    score = _vader_score(signals)
    return Sentiment(round(score, 4), label_for(score), "emoji")
