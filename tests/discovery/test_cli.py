"""``socialcrm discover``: files in, files out, same engine as the API."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from tests.discovery.sites import serve_site

PAGES = Path(__file__).parent / "pages"
runner = CliRunner()

pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


def test_csv_in_csv_out(tmp_path: Path) -> None:
    with serve_site() as site:
        site.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        source = tmp_path / "in.csv"
        source.write_text(
            "name,site_web,city\n"
            f"Rosewood Bakery,{site.url}/,Portland\n"
            "No site,,Nowhere\n"
            f"Missing page,{site.url}/nope,Somewhere\n"
        )
        target = tmp_path / "out.csv"
        result = runner.invoke(app, ["discover", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(target.open()))
    assert [r["name"] for r in rows] == ["Rosewood Bakery", "No site", "Missing page"]
    assert rows[0]["city"] == "Portland"
    assert rows[0]["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
    assert rows[1]["social_facebook"] == "" and rows[2]["social_instagram"] == ""
    said = " ".join(result.output.split())
    assert "1 without a usable site_web" in said
    assert "http_404 1" in said


def test_csv_out_never_carries_a_formula(tmp_path: Path) -> None:
    with serve_site() as site:
        site.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        source = tmp_path / "in.csv"
        source.write_text(
            "name,site_web,note,balance\n"
            f'"=HYPERLINK(""https://evil.example"")",{site.url}/,@SUM(A1),-12.5\n'
        )
        target = tmp_path / "out.csv"
        result = runner.invoke(app, ["discover", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(target.open()))
    assert row["name"] == '\'=HYPERLINK("https://evil.example")'
    assert row["note"] == "'@SUM(A1)"
    assert row["balance"] == "-12.5"
    assert row["social_facebook"] == "https://www.facebook.com/rosewoodbakerypdx"


def test_jsonl_in_jsonl_out(tmp_path: Path) -> None:
    with serve_site() as site:
        site.page("/", (PAGES / "x_com_and_threads.html").read_text())
        source = tmp_path / "in.jsonl"
        source.write_text(json.dumps({"name": "Quanta", "site_web": site.url, "id": 7}) + "\n\n")
        target = tmp_path / "out.jsonl"
        result = runner.invoke(app, ["discover", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert row["id"] == 7
    assert row["social_twitter"] == "https://x.com/quantarobotics"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.txt", "x", "use a .csv or .jsonl file"),
        ("in.jsonl", '{"a": 1}\nnot json\n', "line 2: not JSON"),
        ("in.jsonl", "[1, 2]\n", "line 1: each line must be a JSON object"),
    ],
)
def test_bad_input_is_a_message_and_a_non_zero_exit(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    source = tmp_path / name
    source.write_text(content)
    result = runner.invoke(app, ["discover", str(source), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_missing_input_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["discover", str(tmp_path / "nope.csv"), "-o", "o.csv"])
    assert result.exit_code == 2
    assert "no such file" in " ".join(result.output.split())
