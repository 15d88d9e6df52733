"""Language (lingua) and sentiment (VADER) of short social text; offline and fast.

Language, in this order:
1. a language the network itself declares wins (X's ``lang``, Mastodon's ``language``, ...);
2. handles, links and ``#`` are removed; fewer than three letters is ``und``;
3. lingua (low-accuracy mode, ~80 µs) ranks the tenant's expected languages
   (``Tenant.policy["listening"]["languages"]``, default ``DEFAULT_LANGUAGES``) by confidence;
4. a text that is mostly English words is English, whatever lingua ranked first: short posts
   ("Yay yay yay #mets", "Piss off rain") are where n-gram detectors fail, and an English word
   is a stop word of English or a word of VADER's English lexicon (so slang such as "lol" or
   "wtf" counts). The top language keeps the text when its own stop words are as common;
5. when the top two languages are closer than ``MIN_RELATIVE_DISTANCE`` the text is ``und``.
Measured on 4,200 tweets rated by people (Hutto & Gilbert 2014, fetched from the
vaderSentiment sdist by ``tests/listening/test_language_quality.py`` and ``bench/ingestion.py``).

Sentiment: VADER's compound score for English (label positive ≥ 0.05, negative ≤ -0.05). VADER's
lexicon is English, so for any other language we score only the language-neutral signals it
knows (emoji and emoticons such as ``:(`` or ``😡``) and report ``method="emoji"``; a text with
none of them is neutral with ``method="none"``. A per-language lexicon (e.g. a translated VADER
lexicon) plugs in through ``LEXICON_SCORERS`` without touching callers.
"""

from __future__ import annotations

import functools
import re
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder
from stop_words import LANGUAGE_MAPPING, get_stop_words  # type: ignore[import-untyped]
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    allcap_differential,
    normalize,
    scalar_inc_dec,
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
DEFAULT_LANGUAGES = frozenset(lang.iso_code_639_1.name.lower() for lang in LANGUAGES)
# Every language lingua knows, by ISO 639-1 code: what a tenant may list as expected.
SUPPORTED_LANGUAGES = frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())
UNDETERMINED = "und"
POSITIVE, NEGATIVE = 0.05, -0.05
ENGLISH_MAJORITY = 0.5  # share of English words that makes a text English
MIN_RELATIVE_DISTANCE = 0.05  # top two lingua confidences closer than this: undetermined

_NOISE = re.compile(r"https?://\S+|(?<!\w)@[\w.\-]+|#")
_LETTERS = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_EMOTICON = re.compile(r"(?<!\S)[:;=xX8][-']?[()\[\]dDpP/\\|oO3*]+(?!\S)|<3")
_lock = threading.Lock()
_vader: _Vader | None = None


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # -1 … 1
    label: str  # positive | neutral | negative
    method: str  # vader | emoji | none


def expected_languages(codes: Iterable[str] | None) -> frozenset[str]:
    """The supported ISO 639-1 codes among ``codes``; the defaults when none is left."""
    chosen = frozenset(c.strip().lower() for c in codes or ()) & SUPPORTED_LANGUAGES
    return chosen or DEFAULT_LANGUAGES


@functools.cache
def _detector(codes: frozenset[str]) -> LanguageDetector:
    """One detector per set of expected languages, built once (a few ms) and shared."""
    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(c)) for c in sorted(codes)]
    if len(languages) == 1:  # lingua needs two to compare; English-word share decides alone
        languages.append(Language.ENGLISH if languages[0] != Language.ENGLISH else Language.LATIN)
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )


@functools.cache
def _stop_words(code: str) -> frozenset[str]:
    """A language's stop words (the ``stop-words`` lists), empty where it has none."""
    return frozenset(get_stop_words(code)) if code in LANGUAGE_MAPPING else frozenset()


@functools.cache
def _english_words() -> frozenset[str]:
    """English stop words and the words of VADER's English lexicon (slang included)."""
    lexicon = (w for w in _get_vader().lexicon if w.isalpha())
    return _stop_words("en") | frozenset(lexicon)


def _share(words: list[str], vocabulary: frozenset[str]) -> float:
    return sum(1 for w in words if w in vocabulary) / len(words) if words else 0.0


_NEGATE = frozenset(NEGATE)


class _Vader(SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER's compound score, rule for rule, in one pass over words lower-cased once.

    The library lower-cases every word of the text again for each word it scores and for each
    of the three words before it, rebuilds the text character by character to describe emoji,
    and computes pos/neu/neg shares the pipeline never stores. ``compound`` does none of that;
    its rules are the library's, line for line (``sentiment_valence``, ``_negation_check``,
    ``_special_idioms_check``, ``_least_check``, ``_but_check``, ``score_valence``).
    ``tests/listening/test_analysis.py`` checks it equals ``polarity_scores(text)["compound"]``.
    """

    def __init__(self) -> None:
        super().__init__()
        # The library looks emoji up one character at a time: longer keys never match.
        self.emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)

    def compound(self, text: str) -> float:
        """The library's compound score of ``text``."""
        if not self.emoji_chars.isdisjoint(text):
            text = _describe_emoji(text, self.emojis)
        text = text.strip()
        words = [_strip_punc_if_word(w) for w in text.split()]
        lower = [w.lower() for w in words]
        lexicon = self.lexicon
        if lexicon.keys().isdisjoint(lower):
            return 0.0  # no lexicon word: every valence is 0
        is_cap_diff = allcap_differential(words)
        size = len(words)
        sentiments: list[float] = []
        for i, low in enumerate(lower):
            if (
                low in BOOSTER_DICT
                or low not in lexicon
                or (low == "kind" and i < size - 1 and lower[i + 1] == "of")
            ):
                sentiments.append(0)
            else:
                sentiments.append(self._valence(words, lower, i, is_cap_diff))
        if "but" in lower:
            sentiments = self._but_check(words, sentiments)
        total = float(sum(sentiments))
        emphasis = self._punctuation_emphasis(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return float(round(normalize(total), 4))

    def _valence(self, words: list[str], lower: list[str], i: int, is_cap_diff: bool) -> float:
        """``sentiment_valence`` for the lexicon word at ``i``."""
        lexicon = self.lexicon
        low = lower[i]
        valence = lexicon[low]
        if low == "no" and i != len(lower) - 1 and lower[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lower[i - 1] == "no")
            or (i > 1 and lower[i - 2] == "no")
            or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[low] * N_SCALAR
        if is_cap_diff and words[i].isupper():
            valence = valence + C_INCR if valence > 0 else valence - C_INCR
        for start_i in range(3):
            if i > start_i and lower[i - (start_i + 1)] not in lexicon:
                s = scalar_inc_dec(words[i - (start_i + 1)], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = _negation(valence + s, lower, start_i, i)
                if start_i == 2:
                    valence = _idioms(valence, lower, i)
        return _least(valence, lower, i, lexicon)


def _negated(word: str) -> bool:
    """vaderSentiment's ``negated([word])`` for one lower-cased word."""
    return word in _NEGATE or "n't" in word


def _negation(valence: float, lower: list[str], start_i: int, i: int) -> float:
    """``_negation_check`` on lower-cased words."""
    if start_i == 0 and _negated(lower[i - 1]):
        valence = valence * N_SCALAR
    if start_i == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if (lower[i - 3] == "never" and (lower[i - 2] == "so" or lower[i - 2] == "this")) or (
            lower[i - 1] == "so" or lower[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _idioms(valence: float, lower: list[str], i: int) -> float:
    """``_special_idioms_check`` on lower-cased words (called with ``i >= 3``)."""
    w3, w2, w1, w0 = lower[i - 3], lower[i - 2], lower[i - 1], lower[i]
    onezero, twoonezero, twoone = f"{w1} {w0}", f"{w2} {w1} {w0}", f"{w2} {w1}"
    threetwoone, threetwo = f"{w3} {w2} {w1}", f"{w3} {w2}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    size = len(lower)
    if size - 1 > i:
        zeroone = f"{w0} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if size - 1 > i + 1:
        zeroonetwo = f"{w0} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    # booster/dampener bi-grams such as "sort of" or "kind of"
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least(valence: float, lower: list[str], i: int, lexicon: dict[str, float]) -> float:
    """``_least_check`` on lower-cased words."""
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return float(valence)


def _describe_emoji(text: str, emojis: dict[str, str]) -> str:
    """The library's emoji-to-description step of ``polarity_scores``."""
    parts: list[str] = []
    prev_space = True
    for ch in text:
        description = emojis.get(ch)
        if description is not None:
            if not prev_space:
                parts.append(" ")
            parts.append(description)
            prev_space = False
        else:
            parts.append(ch)
            prev_space = ch == " "
    return "".join(parts)


def _strip_punc_if_word(token: str) -> str:
    stripped = token.strip(string.punctuation)
    return token if len(stripped) <= 2 else stripped


def _get_vader() -> _Vader:
    global _vader
    if _vader is None:
        with _lock:
            if _vader is None:
                _vader = _Vader()
    return _vader


def warm_up(codes: Iterable[str] | None = None) -> None:
    """Load the models now rather than in the first request."""
    _detector(expected_languages(codes))
    _get_vader()
    _english_words()


def detect_language(text: str, declared: str = "", expected: frozenset[str] | None = None) -> str:
    """ISO 639-1 code: the network's own declaration if it gave one, else detected among the
    ``expected`` languages (see the module's docstring), else ``und``."""
    if declared and declared.isalpha() and 2 <= len(declared) <= 3:
        return declared.lower()
    cleaned = _NOISE.sub(" ", text)
    if len(_LETTERS.findall(cleaned)) < 3:
        return UNDETERMINED
    codes = expected or DEFAULT_LANGUAGES
    ranked = _detector(codes).compute_language_confidence_values(cleaned)
    top = ranked[0].language.iso_code_639_1.name.lower()
    if top != "en" and "en" in codes:
        words = [w.lower() for w in _WORD.findall(cleaned)]
        english = _share(words, _english_words())
        if english >= ENGLISH_MAJORITY and english > _share(words, _stop_words(top)):
            return "en"
    if top not in codes:  # the stand-in second language of a one-language tenant
        return UNDETERMINED
    if len(ranked) > 1 and ranked[0].value - ranked[1].value < MIN_RELATIVE_DISTANCE:
        return UNDETERMINED
    return top


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


def _vader_score(text: str) -> float:
    return _get_vader().compound(text)


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
