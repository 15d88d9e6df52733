"""Unicode confusable skeletons (UTS #39 style) from the confusable-homoglyphs data.

Two strings whose skeletons are equal look alike to a person. The skeleton is case-insensitive
(handles are), ignores invisible format characters, and maps every character of a confusable
class to that class's prototype (the character every other member points at in the data).
Pure. The table is built once, when this module is imported (at start-up: the app imports the
resolve path), ~50 ms; a skeleton then takes microseconds and no request pays for the table.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

_MARKS = "\u200e\u200f"  # the data wraps right-to-left characters in direction marks


def _clean(text: str) -> str:
    return text.strip(_MARKS)


def _prototypes() -> dict[str, str]:
    """Every confusable character -> its class prototype (single chars or short sequences)."""
    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        root = ch
        while parent.get(root, root) != root:
            root = parent[root]
        parent[ch] = root
        return root

    sequences: dict[str, str] = {}
    for key, glyphs in data.items():
        for glyph in glyphs:
            other = _clean(glyph["c"])
            if len(other) == 1 and len(key) == 1:
                a, b = find(key), find(other)
                if a != b:
                    parent[a] = b
            elif len(key) == 1 and len(glyphs) == 1 and other:
                sequences[key] = other  # one character that looks like a sequence ("ǆ" ~ "dž")

    members: dict[str, list[str]] = {}
    for ch in list(parent):
        members.setdefault(find(ch), []).append(ch)
    table: dict[str, str] = {}
    for group in members.values():
        # The prototype is the character the data lists most look-alikes for.
        proto = max(group, key=lambda c: (len(data.get(c, ())), -ord(c)))
        for ch in group:
            if ch != proto:
                table[ch] = proto
    for ch, seq in sequences.items():
        table.setdefault(ch, seq)
    return table


def _ignorable(ch: str) -> bool:
    """Invisible characters (zero-width joiners, direction marks, variation selectors)."""
    return unicodedata.category(ch) == "Cf" or 0xFE00 <= ord(ch) <= 0xFE0F


_TABLE = _prototypes()


def skeleton(text: str) -> str:
    """The look-alike class of ``text``: equal skeletons mean a person cannot tell them apart.

    Mapping happens before case-folding, so a capital ``I`` counts as the ``l`` it imitates.
    """
    table = _TABLE
    value = text
    for _ in range(8):  # mapping can expose new mappable characters; stop at the fixpoint
        decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", value))
        mapped = "".join(table.get(ch, ch) for ch in decomposed if not _ignorable(ch))
        result = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", mapped).casefold())
        if result == value:
            break
        value = result
    return value


def confusable(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ but look alike."""
    return a != b and skeleton(a) == skeleton(b)


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character of a look-alike handle, as the review queue shows it: ``differs`` when
    it is not the character the known handle has there (``looks_like``: what it imitates)."""

    char: str
    differs: bool
    looks_like: str = ""

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        return unicodedata.name(self.char, "unnamed character").lower()

    @property
    def looks_like_code_points(self) -> str:
        return " ".join(f"U+{ord(c):04X}" for c in self.looks_like)

    @property
    def visible(self) -> str:
        """The character, or its code point when it prints as nothing (zero-width, marks)."""
        return f"[{self.code_point}]" if _ignorable(self.char) else self.char


def differences(handle: str, known: str) -> list[Glyph]:
    """``handle`` character by character against the ``known`` handle it looks like: which
    characters differ (a digit zero for an ``o``, a Cyrillic o, an invisible space)."""
    glyphs: list[Glyph] = []
    matcher = SequenceMatcher(None, handle, known, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            glyphs.extend(Glyph(ch, differs=False) for ch in handle[i1:i2])
            continue
        theirs = known[j1:j2]
        same_length = i2 - i1 == j2 - j1
        for k, ch in enumerate(handle[i1:i2]):
            looks_like = theirs[k] if same_length else (theirs if k == 0 else "")
            glyphs.append(Glyph(ch, differs=True, looks_like=looks_like))
    return glyphs
