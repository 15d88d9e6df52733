"""Field-level precision and recall of the extractor on a labelled corpus of ``.eml`` files.

``expected.json`` maps each file to ``{"region", "participants": [{"email", "name", "title",
"company", "phones", "emails", "websites", "profiles"}]}``. Values are compared after the same
normalisation the suggestions use (case, website scheme and ``www.``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialcrm.signatures.analysis import Participant, analyse
from socialcrm.signatures.links import website_key
from socialcrm.signatures.mime import parse_email

FIELDS = ("name", "title", "company", "phones", "emails", "websites", "profiles")


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(slots=True)
class Report:
    scores: dict[str, Score] = field(default_factory=lambda: {f: Score() for f in FIELDS})
    misses: list[str] = field(default_factory=list)
    emails: int = 0


def _key(field_name: str, value: str) -> str:
    if field_name == "websites":
        return website_key(value)
    return " ".join(value.casefold().split())


def _found_values(participant: Participant | None, field_name: str) -> set[str]:
    if participant is None:
        return set()
    f = participant.fields
    values: Iterable[str]
    if field_name == "phones":
        values = [p.number for p in f.phones]
    elif field_name == "profiles":
        values = [p.url for p in f.profiles]
    elif field_name in ("emails", "websites"):
        values = getattr(f, field_name)
    else:
        value = getattr(f, field_name)
        values = [value] if value else []
    return {_key(field_name, v) for v in values}


def _expected_values(expected: dict[str, Any], field_name: str) -> set[str]:
    value = expected.get(field_name)
    if isinstance(value, list):
        return {_key(field_name, v) for v in value}
    return {_key(field_name, value)} if value else set()


def evaluate(corpus: Path) -> Report:
    labels: dict[str, Any] = json.loads((corpus / "expected.json").read_text())
    report = Report()
    for name, label in sorted(labels.items()):
        parsed = parse_email((corpus / name).read_bytes())
        found = {p.email: p for p in analyse(parsed, region=label["region"])}
        report.emails += 1
        expected_by_email = {p["email"]: p for p in label["participants"]}
        for email in set(found) - set(expected_by_email):
            expected_by_email[email] = {"email": email}
        for email, expected in expected_by_email.items():
            participant = found.get(email)
            for field_name in FIELDS:
                want = _expected_values(expected, field_name)
                got = _found_values(participant, field_name)
                score = report.scores[field_name]
                score.tp += len(want & got)
                score.fp += len(got - want)
                score.fn += len(want - got)
                if want != got:
                    report.misses.append(
                        f"{name} {email} {field_name}: want {sorted(want)} got {sorted(got)}"
                    )
    return report
