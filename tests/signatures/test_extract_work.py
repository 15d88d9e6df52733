"""Signature extraction costs work linear in the message (a mail is anyone's input).

Work is counted, not timed: the characters the extractor hands to the regular-expression
engine plus the Python lines it executes (its loops). Timings live in ``bench/signatures.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from socialcrm.signatures import block, extract, fields, links, names, phones
from socialcrm.signatures.extract import extract_signature
from socialcrm.signatures.fields import MAX_VALUES

# The extraction's modules: their patterns are counted and their lines traced.
EXTRACTION = (extract, block, fields, links, names, phones)
_FILES = frozenset(module.__file__ for module in EXTRACTION)

# Which positional argument is the scanned string, per method of a compiled pattern.
_STRING_ARG = {
    "match": 0,
    "search": 0,
    "fullmatch": 0,
    "finditer": 0,
    "findall": 0,
    "split": 0,
    "sub": 1,
    "subn": 1,
}


class WorkBudgetExceeded(AssertionError):
    pass


class RegexWork:
    """Work done so far (characters scanned plus lines run); over ``budget`` the extraction
    is stopped at once, so quadratic code fails in a second instead of running for minutes."""

    def __init__(self) -> None:
        self.chars = 0
        self.budget = 0

    def add(self, text: object) -> None:
        self.count(len(text) if isinstance(text, str) else 0)

    def count(self, units: int) -> None:
        self.chars += units
        if self.budget and self.chars > self.budget:
            raise WorkBudgetExceeded(f"more than {self.budget} units of work")

    def trace(self, frame: FrameType, event: str, _arg: Any) -> Any:
        """``sys.settrace``: count every line run inside the extraction (and nothing else)."""
        if frame.f_code.co_filename not in _FILES:
            return None
        if event == "line":
            self.count(1)
        return self.trace


def _counted(call: Callable[..., Any], index: int, work: RegexWork) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        work.add(args[index] if len(args) > index else kwargs.get("string"))
        return call(*args, **kwargs)

    return counted


class CountingPattern:
    def __init__(self, pattern: re.Pattern[str], work: RegexWork) -> None:
        self._pattern, self._work = pattern, work

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._pattern, name)
        return _counted(attr, _STRING_ARG[name], self._work) if name in _STRING_ARG else attr


class CountingRe:
    """Stands in for the ``re`` module inside ``extract`` (``re.split(pattern, text)``)."""

    def __init__(self, work: RegexWork) -> None:
        self._work = work

    def __getattr__(self, name: str) -> Any:
        attr = getattr(re, name)
        return _counted(attr, _STRING_ARG[name] + 1, self._work) if name in _STRING_ARG else attr


def _wrap(value: Any, work: RegexWork) -> Any:
    if isinstance(value, re.Pattern):
        return CountingPattern(value, work)
    if isinstance(value, tuple) and any(isinstance(v, re.Pattern | tuple) for v in value):
        return tuple(_wrap(v, work) for v in value)
    return value


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[RegexWork]:
    counter = RegexWork()
    for module in EXTRACTION:
        for name, value in list(vars(module).items()):
            wrapped = _wrap(value, counter)
            if wrapped is not value:
                monkeypatch.setattr(module, name, wrapped)
        if hasattr(module, "re"):
            monkeypatch.setattr(module, "re", CountingRe(counter))
    phones._parse_phone_cached.cache_clear()
    previous = sys.gettrace()
    sys.settrace(counter.trace)
    try:
        yield counter
    finally:
        sys.settrace(previous)
        phones._parse_phone_cached.cache_clear()


def tel_line_mail(chars: int) -> str:
    numbers = " ".join(f"+49 30 {1_000_000 + i:07d}" for i in range(chars // 15))
    return f"Hi Sam,\n\nsee below.\n\nBest regards,\nBob Miller\nTel: {numbers}\n"


def measure(work: RegexWork, text: str, budget_per_char: int) -> int:
    work.chars, work.budget = 0, budget_per_char * len(text)
    extract_signature(text, author_name="Bob Miller", author_email="bob@example.de", region="DE")
    return work.chars


def test_one_long_phone_line_costs_linear_work(
    work: RegexWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the length caps lifted, the line reader itself must be linear: reading a label
    # looks at a bounded window, not at the whole line before each number.
    monkeypatch.setattr(block, "MAX_LINE_CHARS", 10**9, raising=False)
    monkeypatch.setattr(block, "MAX_BLOCK_CHARS", 10**9, raising=False)
    small = measure(work, tel_line_mail(10_000), budget_per_char=40)
    large = measure(work, tel_line_mail(40_000), budget_per_char=40)
    assert large <= 5 * small  # four times the line, about four times the work (not 16)


def test_a_400_kb_line_is_cut_to_the_signature_caps(work: RegexWork) -> None:
    text = tel_line_mail(400_000)
    measure(work, text, budget_per_char=1)  # one pass over the text; the block is bounded
    fields = extract_signature(text, author_name="Bob Miller", author_email="bob@example.de")
    assert len(fields.block) <= block.MAX_BLOCK_CHARS
    assert all(len(line) <= block.MAX_LINE_CHARS for line in fields.block.splitlines())
    assert fields.name == "Bob Miller"
    assert 1 <= len(fields.phones) <= MAX_VALUES


def test_many_disclaimer_lines_in_one_paragraph_cost_linear_work(work: RegexWork) -> None:
    # Each line used to walk back to the start of its paragraph: quadratic in the lines.
    text = "Hi\n" + "This message is confidential.\n" * 20_000 + "\nBest,\nBob Miller\n"
    measure(work, text, budget_per_char=4)
