"""Job results as CSV: one header of the columns returned, cells a spreadsheet cannot run.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection): such text from the caller's
items is prefixed with a single quote, as OWASP recommends, so it shows as the text it is.
Numbers stay numbers, and so does text that is only a signed number (``-5``, ``+1.5``): a
spreadsheet reads it as that number, never as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_FLUSH_AT: Final = 64_000


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula it would run."""
    if text.startswith(_FORMULA_START) and not _SIGNED_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value: Any) -> Any:
    """A JSON value as one CSV cell: lists and objects as JSON text, text made safe."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value


def csv_chunks(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The CSV text of ``rows`` under ``columns`` (keys missing from a row are empty), in
    pieces of about 64 KB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(column) for column in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
        if buffer.tell() > _FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
