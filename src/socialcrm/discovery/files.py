"""The ``socialcrm discover`` command's engine: a CSV or JSONL file in, the same rows out with
one column per network, through the same crawler and extractor as the jobs API."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialcrm.core.settings import get_settings
from socialcrm.discovery.crawler import Crawler, SiteRequest, SiteResult, run_sync, site_url
from socialcrm.discovery.export import csv_chunks
from socialcrm.discovery.jobs import COLUMNS
from socialcrm.discovery.runner import organisation_name
from socialcrm.discovery.settings import get_discovery_settings

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class InputError(ValueError):
    """The input file cannot be read as items."""


@dataclass
class Summary:
    rows: int = 0
    crawled: int = 0
    found: int = 0
    skipped: int = 0  # no usable site_web
    failures: Counter[str] = field(default_factory=Counter)


def file_format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path.name}: use a .csv or .jsonl file")
    return kind


def read_items(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of ``path`` and its column names in order."""
    kind = file_format(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read it as UTF-8 text ({exc})") from exc
    if kind == "csv":
        return csv_items(text)
    rows = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path.name} line {number}: not JSON ({exc.args[0]})") from exc
        if not isinstance(item, dict):
            raise InputError(f"{path.name} line {number}: each line must be a JSON object")
        rows.append(item)
        for key in item:
            columns.setdefault(str(key), None)
    return rows, list(columns)


def csv_items(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of a CSV text (its first line names the columns) and its column names."""
    reader = csv.DictReader(text.splitlines())
    rows = [dict(row) for row in reader]
    return rows, list(reader.fieldnames or [])


def uploaded_items(data: bytes, name: str) -> list[dict[str, Any]]:
    """The rows of an uploaded CSV file, which must have a ``site_web`` column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text: save it as CSV (UTF-8)") from exc
    rows, columns = csv_items(text)
    if "site_web" not in columns:
        shown = ", ".join(columns[:8]) or "none"
        raise InputError(f"{name} has no site_web column (its columns: {shown})")
    if not rows:
        raise InputError(f"{name} has a header but no rows")
    return rows


def pasted_items(text: str) -> list[dict[str, Any]]:
    """One item per non-blank line: the line is the site (a URL or a domain name)."""
    return [{"site_web": line.strip()} for line in text.splitlines() if line.strip()]


def discover_file(
    source: Path,
    target: Path,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Summary:
    """Enrich every row of ``source`` into ``target`` (formats from the file names)."""
    out_kind = file_format(target)
    rows, columns = read_items(source)
    summary = Summary(rows=len(rows))
    requests = []
    for index, row in enumerate(rows):
        parsed = site_url(row.get("site_web"))
        if parsed is None:
            summary.skipped += 1
            continue
        requests.append(SiteRequest(index, parsed[0], organisation_name(row), parsed[1]))
    if on_total is not None:
        on_total(len(requests))
    results: dict[int, SiteResult] = {}

    def record(result: SiteResult) -> None:
        results[result.key] = result
        if progress is not None:
            progress(1)

    run_sync(_crawl(requests, record))
    for result in results.values():
        summary.crawled += 1
        summary.found += bool(result.profiles)
        if result.failure:
            summary.failures[result.failure] += 1
    enriched = []
    for index, row in enumerate(rows):
        profiles = results[index].profiles if index in results else {}
        enriched.append({**row, **{c: profiles.get(n, "") for n, c in COLUMNS.items()}})
    _write(target, out_kind, enriched, columns)
    return summary


async def _crawl(requests: list[SiteRequest], record: Callable[[SiteResult], None]) -> None:
    crawler = Crawler(get_discovery_settings(), allow_private=get_settings().allow_private_fetch)
    async with crawler:
        await crawler.discover_many(requests, record)


def _write(target: Path, kind: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    header = [c for c in columns if c not in COLUMNS.values()] + list(COLUMNS.values())
    with target.open("w", encoding="utf-8", newline="") as handle:
        if kind == "jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        handle.writelines(csv_chunks(header, rows))  # cells a spreadsheet cannot run
