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


def _get_vader() -> SentimentIntensityAnalyzer:
    global _vader
    if _vader is None:
        with _lock:
            if _vader is None:
                _vader = SentimentIntensityAnalyzer()
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
