"""Hypothesis over headers and MIME structures: the parser raises ``MalformedEmail`` or gives
a message whose every text can be stored (no NUL, valid UTF-8) and analysed; nothing else."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcrm.signatures.analysis import analyse
from socialcrm.signatures.mime import MalformedEmail, ParsedEmail, parse_email

HEADER_NAMES = (
    "From",
    "To",
    "Cc",
    "Date",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
)
CHARSETS = (
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "utf-16",
    "shift_jis",
    "x-unknown",
    "utf\x00-8",
    "",
    "\x00",
    "idna",
    "rot13",
    "base64",
    "hex",
    "uu",
    "zlib",
)
ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "b\x00", "??")
TEXT_TYPES = ("text/plain", "text/html", "text/enriched", "application/pdf", "message/rfc822")

# Characters that break parsers and databases: NUL, controls, surrogate-looking bytes,
# quoting and encoded-word syntax, huge digit runs, line folding.
AWKWARD = [
    *"aZ09 @<>\"',;:=?_-.()[]\\\t",
    *("\x00", "\x01", "\x7f", "\r", "\n", "\n ", "\u00e9", "\u202e", "\ufeff", "\U0001f600"),
    *("=?", "?=", "?q?", "?b?", "99999999999999999999", "+0000", "Mon, 1 Jan "),
]
awkward_text = st.lists(st.sampled_from(AWKWARD), max_size=30).map("".join)


@st.composite
def encoded_word(draw: st.DrawFn) -> str:
    charset = draw(st.sampled_from(CHARSETS))
    kind = draw(st.sampled_from("qQbBx"))
    payload = draw(st.text(alphabet="AZaz09=+/_?", max_size=20))
    return f"=?{charset}?{kind}?{payload}?="


@st.composite
def date_value(draw: st.DrawFn) -> str:
    day = draw(st.integers(min_value=-5, max_value=10**22))
    year = draw(st.integers(min_value=-5, max_value=10**22))
    hour = draw(st.integers(min_value=0, max_value=10**12))
    zone = draw(st.sampled_from(["+0000", "-9999", "+99999999999", "GMT", "XYZ", ""]))
    return f"Mon, {day} Jan {year} {hour}:00:00 {zone}"


header_value = st.one_of(
    awkward_text,
    encoded_word(),
    date_value(),
    st.builds(lambda n, a: f"{n} <{a}>", awkward_text, awkward_text),
    st.sampled_from(["Bob <bob@x.com>", "a@b.c", "<>", '"" <@>', "undisclosed-recipients:;"]),
)


def header_bytes(value: str, how: str) -> bytes:
    if how == "utf-8":
        return value.encode("utf-8", "surrogatepass")
    if how == "latin-1":
        return value.encode("latin-1", "replace")
    return value.encode("utf-16-le", "surrogatepass")


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        name = draw(st.sampled_from(HEADER_NAMES) | st.text(alphabet="AZaz-\x00:", max_size=12))
        value = draw(header_value)
        how = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
        lines.append(name.encode("utf-8", "surrogatepass") + b": " + header_bytes(value, how))
    return b"\r\n".join(lines)


@st.composite
def content_headers(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(TEXT_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    extra = draw(
        st.sampled_from([b"", b'Content-Disposition: attachment; filename="a\x00.pdf"\r\n'])
    )
    return (
        f'Content-Type: {ctype}; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: {cte}\r\n".encode("utf-8", "surrogatepass")
        + extra
    )


body_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"Best,\r\nBob Miller\r\nTel: +49 30 1234567\r\n", b"=\r\n=ZZ=00", b"!!!"]),
)


def mime_part(depth: int) -> st.SearchStrategy[bytes]:
    leaf = st.builds(lambda h, b: h + b"\r\n" + b, content_headers(), body_bytes)
    if depth == 0:
        return leaf
    return st.one_of(leaf, multipart(depth))


@st.composite
def multipart(draw: st.DrawFn, depth: int) -> bytes:
    boundary = draw(st.sampled_from(["XYZ", "a b", "", "=_\x00", "--"]))
    children = draw(st.lists(mime_part(depth - 1), max_size=3))
    closed = draw(st.booleans())
    kind = draw(st.sampled_from(["mixed", "alternative", "related", "digest"]))
    out = f'Content-Type: multipart/{kind}; boundary="{boundary}"\r\n\r\n'.encode(
        "utf-8", "surrogatepass"
    )
    for child in children:
        out += f"--{boundary}\r\n".encode("utf-8", "surrogatepass") + child + b"\r\n"
    if closed:
        out += f"--{boundary}--\r\n".encode("utf-8", "surrogatepass")
    return out


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    top = draw(headers())
    sender = draw(st.sampled_from([b"From: Bob <bob@x.com>\r\n", b""]))
    return sender + top + b"\r\n" + draw(mime_part(2))


def storable(value: Any, where: str) -> None:
    """What PostgreSQL takes in a text or JSON column: no NUL, and valid UTF-8."""
    if isinstance(value, str):
        assert "\x00" not in value, where
        value.encode("utf-8")  # raises on a lone surrogate
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            storable(item, f"{where}[{i}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            storable(getattr(value, f.name), f"{where}.{f.name}")


def check(raw: bytes) -> ParsedEmail | None:
    try:
        parsed = parse_email(raw)
    except MalformedEmail:
        return None
    storable(parsed, "parsed")
    for participant in analyse(parsed):
        storable(participant, "participant")
    return parsed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_any_headers_and_mime_structure_parse_or_raise_malformed(raw: bytes) -> None:
    check(raw)
