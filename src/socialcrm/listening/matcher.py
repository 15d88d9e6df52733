"""One pass over a mention for all of a tenant's rule terms (Aho-Corasick), then the filters.

Pure: no database, no I/O. ``RuleIndex`` is built once per version of a tenant's rules and used
for every mention of a batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ahocorasick  # type: ignore[import-not-found]  # ships no type information

from socialcrm.listening.query import Node, evaluate, normalise_text, required_any, terms


@dataclass(frozen=True, slots=True)
class GeoCircle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    query: Node | None
    networks: frozenset[str] = frozenset()
    account_ids: frozenset[int] = frozenset()  # listen only through these connected accounts
    brand_handles: frozenset[str] = frozenset()  # "@handle" terms of the tenant's brand accounts
    brand_account_ids: frozenset[int] = frozenset()
    languages: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    geo: GeoCircle | None = None
    sentiments: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset({"mention"})


@dataclass(frozen=True, slots=True)
class MentionFeatures:
    """What rules look at, already analysed."""

    network: str
    text: str
    account_id: int | None = None
    language: str = ""
    country: str = ""
    lat: float | None = None
    lon: float | None = None
    sentiment: str = "neutral"
    kind: str = "mention"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def passes_filters(rule: CompiledRule, m: MentionFeatures, present: set[str]) -> bool:
    if m.kind not in rule.kinds:
        return False
    if rule.networks and m.network not in rule.networks:
        return False
    if rule.account_ids and m.account_id not in rule.account_ids:
        return False
    if rule.languages and m.language not in rule.languages:
        return False
    if rule.countries and m.country not in rule.countries:
        return False
    if rule.sentiments and m.sentiment not in rule.sentiments:
        return False
    if rule.geo is not None:
        if m.lat is None or m.lon is None:
            return False
        if distance_km(rule.geo.lat, rule.geo.lon, m.lat, m.lon) > rule.geo.radius_km:
            return False
    if rule.brand_handles or rule.brand_account_ids:
        via = m.account_id is not None and m.account_id in rule.brand_account_ids
        if not via and not (rule.brand_handles & present):
            return False
    return True


@dataclass
class RuleIndex:
    rules: Sequence[CompiledRule]
    _automaton: ahocorasick.Automaton | None = None
    _by_term: dict[str, list[int]] = field(default_factory=dict)  # term -> rule positions
    _always: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rules: Iterable[CompiledRule]) -> RuleIndex:
        index = cls(rules=list(rules))
        automaton = ahocorasick.Automaton()
        every_term: set[str] = set()
        for position, rule in enumerate(index.rules):
            every_term |= terms(rule.query) | set(rule.brand_handles)
            needed = required_any(rule.query)
            if needed is None:
                index._always.append(position)
            else:
                for term in needed:
                    index._by_term.setdefault(term, []).append(position)
        for term in every_term:
            automaton.add_word(term, term)
        if every_term:
            automaton.make_automaton()
            index._automaton = automaton
        return index

    def present_terms(self, text: str) -> set[str]:
        """Every rule term that occurs in ``text`` as whole words."""
        if self._automaton is None:
            return set()
        normalised = normalise_text(text)
        last = len(normalised) - 1
        found: set[str] = set()
        for end, term in self._automaton.iter(normalised):
            if term in found:
                continue
            start = end - len(term) + 1
            if start > 0 and _is_word(normalised[start - 1]) and _is_word(term[0]):
                continue
            if end < last and _is_word(normalised[end + 1]) and _is_word(term[-1]):
                continue
            found.add(term)
        return found

    def match(self, mention: MentionFeatures) -> list[int]:
        """Ids of the rules this mention matches, in rule order."""
        present = self.present_terms(mention.text)
        candidates = set(self._always)
        for term in present:
            candidates.update(self._by_term.get(term, ()))
        matched: list[int] = []
        for position in sorted(candidates):
            rule = self.rules[position]
            if evaluate(rule.query, present) and passes_filters(rule, mention, present):
                matched.append(rule.id)
        return matched
