"""Numbers typed by callers: ASCII digits only, whatever ``str.isdigit()`` thinks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.core.errors import ValidationFailed
from socialcrm.core.numbers import is_ascii_number, parse_cursor

# Superscript two, Arabic-Indic three, circled one, mathematical nine: isdigit() says yes.
UNICODE_DIGITS = ["\u00b2", "\u0663", "\u2460", "\U0001d7e1"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", True), ("42", True), ("", False), ("1\x00", False), (" 1", False), ("-1", False)]
    + [(digit, False) for digit in UNICODE_DIGITS],
)
def test_only_ascii_digits_are_numbers(value: str, expected: bool) -> None:
    assert is_ascii_number(value) is expected


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("7", 7), ("0", 0)])
def test_cursors_that_pages_hand_out_are_read(value: str | None, expected: int | None) -> None:
    assert parse_cursor(value) == expected


@pytest.mark.parametrize("value", [*UNICODE_DIGITS, "\x00", "1\x00", "1" * 19, "-1", "1e3"])
def test_any_other_cursor_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_cursor(value)


@given(st.text(max_size=25))
def test_a_cursor_is_ascii_digits_or_a_validation_error_never_a_crash(value: str) -> None:
    try:
        after = parse_cursor(value)
    except ValidationFailed:
        return
    if value:
        assert value.isascii() and after == int(value)
