"""Damaged input never crashes the intake: a clear error or a partial result."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.signatures.analysis import analyse
from socialcrm.signatures.mime import MalformedEmail, html_to_text, parse_email


@pytest.mark.parametrize(
    "raw", [b"", b"   \r\n", b"\x00\x01\x02binary", b"just some words without headers"]
)
def test_not_a_message_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(MalformedEmail):
        parse_email(raw)


def test_unknown_charset_is_decoded_with_a_warning() -> None:
    raw = (
        b"From: Anna <anna@x.de>\r\nSubject: Hallo\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-unknown-klingon\r\n\r\n"
        b"Gr\xfc\xdfe\r\n\r\n-- \r\nAnna Schmidt\r\nTel. +49 30 1234567\r\n"
    )
    parsed = parse_email(raw)
    assert any("unknown charset" in w for w in parsed.warnings)
    assert "Anna Schmidt" in parsed.text
    [participant] = analyse(parsed)
    assert [p.number for p in participant.fields.phones] == ["+49301234567"]


def test_broken_multipart_gives_a_partial_result() -> None:
    raw = (
        b"From: Bob <bob@x.com>\r\nSubject: cut\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nBest,\r\nBob Miller\r\n+1 212 555 0147\r\n"
        b"--XYZ\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQK!!!not base64"
    )
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.email == "bob@x.com"
    assert "Bob Miller" in parsed.text
    assert parsed.attachments and parsed.attachments[0].content_type == "application/pdf"


def test_huge_attachment_is_listed_not_decoded() -> None:
    msg = EmailMessage()
    msg["From"] = "Big <big@x.com>"
    msg["Subject"] = "files"
    msg.set_content("Attached.\n\nBest,\nBig Sender\n+1 212 555 0147\n")
    msg.add_attachment(
        b"\0" * (12 * 1024 * 1024), maintype="application", subtype="zip", filename="a.zip"
    )
    parsed = parse_email(bytes(msg))
    assert parsed.attachments[0].filename == "a.zip"
    assert parsed.attachments[0].size > 12 * 1024 * 1024
    assert [p.number for p in analyse(parsed)[0].fields.phones] == ["+12125550147"]


def test_broken_headers_and_encoded_words() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen_Sch=C3=A4fer?= <j@x.de>\r\n"
        b"Subject: =?x-nope?q?broken?=\r\nDate: not a date\r\n\r\nHallo\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.sender is not None and parsed.sender.name == "Jürgen Schäfer"
    assert parsed.sent_at is None
    assert parsed.warnings


def test_deep_html_nesting_does_not_exhaust_the_stack() -> None:
    html = "<div>" * 5000 + "Best,<br>Deep Nest<br>+1 212 555 0147" + "</div>" * 5000
    assert "Deep Nest" in html_to_text(html)


def test_blockquotes_become_quoted_lines() -> None:
    text = html_to_text("<p>Top</p><blockquote><p>inner</p></blockquote>")
    assert [line for line in text.splitlines() if line] == ["Top", "> inner"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_are_an_error_or_a_message(raw: bytes) -> None:
    try:
        parsed = parse_email(b"From: a@b.com\r\nSubject: x\r\n" + raw)
    except MalformedEmail:
        return
    analyse(parsed)


def test_a_date_that_overflows_is_a_warning_not_a_crash() -> None:
    raw = (
        b"From: Bob <bob@x.com>\r\nDate: Mon, 1 Jan 99999999999999999999 10:00:00 +0000\r\n"
        b"Subject: crafted\r\n\r\nBest,\r\nBob Miller\r\n+1 212 555 0147\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.sent_at is None
    assert "the Date header cannot be read" in parsed.warnings
    assert [p.number for p in analyse(parsed)[0].fields.phones] == ["+12125550147"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"From: Bob\x00 <bob@x.com>\r\nSubject: x\r\n\r\nhi\r\n", "From header contains a NUL"),
        (b"From: =?utf-8?q?Bob=00?= <bob@x.com>\r\n\r\nhi\r\n", "From header contains a NUL"),
        (
            b'From: bob@x.com\r\nContent-Type: text/plain; charset="utf\x00-8"\r\n\r\nhi\r\n',
            "charset name of a part contains a NUL",
        ),
    ],
)
def test_nul_in_a_header_or_a_charset_name_is_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEmail, match=reason):
        parse_email(raw)


def test_nul_in_the_body_is_removed_with_a_warning() -> None:
    parsed = parse_email(b"From: bob@x.com\r\nSubject: x\r\n\r\nh\x00i\r\n")
    assert parsed.text == "hi\n"
    assert "the body contains NUL characters: they were removed" in parsed.warnings


@pytest.mark.parametrize("charset", ["idna", "rot13", "zlib", "hex", "base64"])
def test_charsets_that_are_not_text_encodings_decode_with_a_warning(charset: str) -> None:
    raw = (
        b"From: bob@x.com\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n\r\n\xff\xfe hi\r\n"
    )
    parsed = parse_email(raw)
    assert "hi" in parsed.text and parsed.warnings
