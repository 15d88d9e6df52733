"""``socialcrm emails import`` with .eml and .mbox files."""

from __future__ import annotations

import mailbox
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from socialcrm.cli import app
from tests.signatures.mail import SIGNED, message

CORPUS = Path(__file__).parent / "corpus"


def test_import_eml_and_mbox(api: TestClient, tmp_path: Path) -> None:
    runner = CliRunner()
    eml = CORPUS / "001-en-sales-followup.eml"
    result = runner.invoke(app, ["emails", "import", str(eml), "--tenant", "Tenant A"])
    assert result.exit_code == 0, result.output
    assert "1 stored" in result.output

    box_path = tmp_path / "archive.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(eml.read_bytes())  # already known
    box.add(message(body=SIGNED, message_id="<mbox-1@t>"))
    box.add(b"\njust some text without any header\n")
    box.add((CORPUS / "021-de-mfg-gmbh.eml").read_bytes())
    box.flush()
    box.close()
    result = runner.invoke(app, ["emails", "import", str(box_path), "--tenant", "Tenant A"])
    assert result.exit_code == 0, result.output
    assert "2 stored, 1 already known, 1 not readable" in result.output
    subjects = {e["subject"] for e in api.get("/api/emails").json()["items"]}
    assert "AW: Angebot CRM-Einführung" in subjects


def test_import_refuses_unknown_tenant_and_missing_files(api: TestClient, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        app, ["emails", "import", str(tmp_path / "nope.eml"), "--tenant", "Tenant A"]
    )
    assert missing.exit_code == 2 and "not a file" in missing.output
    eml = CORPUS / "001-en-sales-followup.eml"
    unknown = runner.invoke(app, ["emails", "import", str(eml), "--tenant", "Nobody"])
    assert unknown.exit_code == 2 and "no tenant" in unknown.output
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(b"\x00\x01\x02")
    bad = runner.invoke(app, ["emails", "import", str(garbage), "--tenant", "Tenant A"])
    assert bad.exit_code == 1 and "not an RFC 822 message" in bad.output


def test_import_goes_past_poison_messages(api: TestClient, tmp_path: Path) -> None:
    box_path = tmp_path / "poison.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(
        b"From: Megan Carter <megan.carter@brightpath.io>\r\n"
        b"Date: Mon, 1 Jan 99999999999999999999 10:00:00 +0000\r\n"
        b"Subject: crafted date\r\nMessage-ID: <crafted@t>\r\n\r\nhi\r\n"
    )
    box.add(b"From: Bob\x00 <bob@x.com>\r\nSubject: nul\r\n\r\nhi\r\n")
    box.add(message(body=SIGNED, message_id="<after-the-poison@t>"))
    box.flush()
    box.close()
    result = CliRunner().invoke(app, ["emails", "import", str(box_path), "--tenant", "Tenant A"])
    assert result.exit_code == 0, result.output
    assert "2 stored, 0 already known, 1 not readable" in result.output
    assert "message 2: the From header contains a NUL character" in result.output
    ids = {e["message_id"] for e in api.get("/api/emails").json()["items"]}
    assert ids == {"<crafted@t>", "<after-the-poison@t>"}
