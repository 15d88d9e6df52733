"""Lead assignment: the first matching routing rule picks the next person of its pool.

Kinds: ``language`` (the mention's language is one of ``values``), ``country``, ``keyword``
(one of ``values`` occurs in the text as whole words) and ``round_robin`` (always matches).
Pure: the caller stores each rule's rotating position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from socialcrm.listening.matcher import RuleIndex
from socialcrm.listening.query import normalise_text

KINDS = ("round_robin", "language", "country", "keyword")


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    kind: str
    values: tuple[str, ...]
    user_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LeadFacts:
    language: str
    country: str
    text: str


def _keyword_present(values: Sequence[str], text: str) -> bool:
    from socialcrm.listening.matcher import CompiledRule
    from socialcrm.listening.query import Term

    wanted = [normalise_text(v) for v in values if normalise_text(v)]
    index = RuleIndex.build([CompiledRule(id=0, query=Term(w)) for w in wanted])
    return bool(index.present_terms(text))


def applies(route: Route, facts: LeadFacts) -> bool:
    if not route.user_ids:
        return False
    if route.kind == "round_robin":
        return True
    if route.kind == "language":
        return facts.language in {v.lower() for v in route.values}
    if route.kind == "country":
        return facts.country.upper() in {v.upper() for v in route.values}
    if route.kind == "keyword":
        return _keyword_present(route.values, facts.text)
    return False


def choose(routes: Sequence[Route], facts: LeadFacts) -> Route | None:
    """The first route (in the given order) that applies to this lead."""
    return next((r for r in routes if applies(r, facts)), None)


def pick(route: Route, position: int) -> int:
    """The person at ``position`` of the pool, wrapping around (round-robin)."""
    return route.user_ids[position % len(route.user_ids)]
