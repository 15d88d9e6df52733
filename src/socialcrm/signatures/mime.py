"""Raw RFC 822 / MIME bytes to one readable message. Pure: no I/O.

Broken input never crashes the intake: bytes that are not a message at all, or whose headers
carry a NUL character, raise ``MalformedEmail`` (a clear error, and the only exception this
module raises); everything else yields a ``ParsedEmail`` whose ``warnings`` say what was
skipped (unknown charsets, unreadable dates, truncated bodies, defects) and whose every text
can be stored (no NUL, valid UTF-8). Attachments are listed by size but never decoded, so a
huge attachment costs no more than reading it once.
"""

from __future__ import annotations

import codecs
import hashlib
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

MAX_TEXT_CHARS = 200_000  # per body part; signatures live at the top of a reply anyway
MAX_HEADER_CHARS = 2_000
_HEADER_KEYS = ("from", "date", "subject", "message-id", "to", "received", "mime-version")


class MalformedEmail(ValueError):
    """The bytes are not an RFC 822 message (no headers we can read)."""


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    email: str


@dataclass(slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(slots=True)
class ParsedEmail:
    message_id: str
    subject: str
    sent_at: datetime | None
    sender: Address | None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    text: str = ""
    from_html: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    in_reply_to: str = ""


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message; raises ``MalformedEmail`` only when there is no message at all."""
    if not raw.strip():
        raise MalformedEmail("the message is empty")
    try:
        return _parse(raw)
    except MalformedEmail:
        raise
    except Exception as exc:  # the stdlib is lenient but not total: one clear error, never a 500
        raise MalformedEmail(f"the message cannot be read: {type(exc).__name__}") from exc


def _parse(raw: bytes) -> ParsedEmail:
    head = raw[:65536].lower()
    if not any(
        head.startswith(key.encode() + b":") or b"\n" + key.encode() + b":" in head
        for key in _HEADER_KEYS
    ):
        raise MalformedEmail("not an RFC 822 message: no From, Date, Subject or Message-ID header")
    try:
        # compat32 leaves headers raw; decoding the few we read ourselves is 3x faster than
        # policy.default's header registry, which parses every header it touches.
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:  # the stdlib parser is lenient; this is a last resort
        raise MalformedEmail(f"the message cannot be parsed: {type(exc).__name__}") from exc
    warnings: list[str] = []
    sender = _first_address(msg, "from", warnings)
    message_id = _header(msg, "message-id", warnings).strip()
    if not message_id:
        message_id = "<" + hashlib.sha256(raw).hexdigest()[:40] + "@socialcrm.invalid>"
    parsed = ParsedEmail(
        message_id=message_id[:300],
        subject=_header(msg, "subject", warnings)[:300],
        sent_at=_date(msg, warnings),
        sender=sender,
        to=_addresses(msg, "to", warnings),
        cc=_addresses(msg, "cc", warnings),
        in_reply_to=_header(msg, "in-reply-to", warnings).strip()[:300],
        warnings=warnings,
    )
    _read_body(msg, parsed)
    if msg.defects:
        names = sorted({type(d).__name__ for d in msg.defects})
        warnings.append("MIME defects: " + ", ".join(names))
    return parsed


def storable(text: str) -> str:
    """``text`` as a database takes it: NUL removed, lone surrogates (undecodable bytes that
    the stdlib parser carries along) replaced."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _header(msg: Message, name: str, warnings: list[str]) -> str:
    raw = msg.get(name)
    if raw is None:
        return ""
    value = str(raw)[: MAX_HEADER_CHARS * 4]
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            warnings.append(f"the {name} header has undecodable encoded words")
    if "\x00" in value:  # no mail program writes one: a forged header, refused as a whole
        raise MalformedEmail(f"the {name.title()} header contains a NUL character")
    return storable(re.sub(r"\s+", " ", value)[:MAX_HEADER_CHARS])


def _parse_address_list(value: str) -> list[Address]:
    found: list[Address] = []
    for name, addr in getaddresses([value]):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and " " not in addr and len(addr) <= 320:
            found.append(Address(name=name.strip().strip('"').strip(), email=addr))
    return found


def _addresses(msg: Message, name: str, warnings: list[str]) -> list[Address]:
    return _parse_address_list(_header(msg, name, warnings))[:100]


def _first_address(msg: Message, name: str, warnings: list[str]) -> Address | None:
    found = _addresses(msg, name, warnings)
    return found[0] if found else None


def _date(msg: Message, warnings: list[str]) -> datetime | None:
    value = _header(msg, "date", warnings)
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # "1 Jan 99999999999999999999"
        warnings.append("the Date header cannot be read")
        return None


def _read_body(msg: Message, parsed: ParsedEmail) -> None:
    plain: str | None = None
    html: str | None = None
    for part in _walk(msg):
        if "\x00" in str(part.get_param("charset") or ""):
            raise MalformedEmail("the charset name of a part contains a NUL character")
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if disposition == "attachment" or not content_type.startswith("text/"):
            parsed.attachments.append(
                Attachment(
                    filename=storable(filename),
                    content_type=storable(content_type[:200]),
                    size=_size(part),
                )
            )
            continue
        if content_type == "text/plain" and plain is None:
            plain = _decode_text(part, parsed.warnings)
        elif content_type == "text/html" and html is None:
            html = _decode_text(part, parsed.warnings)
    if plain and plain.strip():
        parsed.text = plain
    elif html:
        parsed.text = html_to_text(html)
        parsed.from_html = True


def _walk(msg: Message) -> Iterator[Message]:
    """Leaf parts, depth-first, without recursion (nesting depth is attacker-chosen)."""
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < 500:
        part = stack.pop()
        seen += 1
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        yield part


def _filename(part: Message) -> str:
    try:
        return str(part.get_filename() or "")[:200]
    except Exception:
        return ""


def _size(part: Message) -> int:
    try:
        payload = part.get_payload()
    except (LookupError, ValueError, TypeError):
        return 0
    return len(payload) if isinstance(payload, str | bytes) else 0


def _decode_text(part: Message, warnings: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else b""
    charset = storable(str(part.get_content_charset("utf-8") or "utf-8")).lower()
    if not _is_text_charset(charset):
        warnings.append(f"unknown charset {charset[:40]!r}: decoded as UTF-8 with replacements")
        text = _fallback_decode(data)
    else:
        try:
            text = data.decode(charset)
        except (UnicodeError, ValueError):
            warnings.append(f"the body is not valid {charset[:40]}: decoded with replacements")
            text = _fallback_decode(data)
    if len(text) > MAX_TEXT_CHARS:
        warnings.append(f"the body was truncated to {MAX_TEXT_CHARS} characters")
        text = text[:MAX_TEXT_CHARS]
    if "\x00" in text:
        warnings.append("the body contains NUL characters: they were removed")
    return storable(text).replace("\r\n", "\n").replace("\r", "\n")


def _is_text_charset(name: str) -> bool:
    """A charset Python can decode bytes to text with (not ``rot13``, ``zlib`` or ``hex``)."""
    try:
        return bool(codecs.lookup(name)._is_text_encoding)
    except (LookupError, ValueError, TypeError):
        return False


def _fallback_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


# --- HTML -------------------------------------------------------------------------------------

_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "pre",
        "address",
        "section",
        "header",
        "footer",
        "article",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "center",
    ]
)
_SKIP = frozenset({"head", "style", "script", "title", "template", "noscript"})
_CELL = frozenset({"td", "th"})


def html_to_text(html: str) -> str:
    """Block elements become lines, ``<blockquote>`` lines get ``> ``, link targets are kept
    next to their text (signatures often hide a profile URL behind an icon)."""
    tree = LexborHTMLParser(html[: MAX_TEXT_CHARS * 4])
    root = tree.body or tree.root
    if root is None:
        return ""
    lines: list[str] = []
    current: list[str] = []
    depth_quote = 0

    def newline() -> None:
        text = re.sub(r"[ \t\u00a0]+", " ", "".join(current)).strip()
        current.clear()
        if text or (lines and lines[-1] != ""):
            lines.append(("> " * depth_quote) + text if text else "")

    # Explicit stack of (node, leaving): deep nesting cannot exhaust the interpreter's stack.
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag or ""
        if leaving:
            if tag == "blockquote":
                newline()
                depth_quote = max(0, depth_quote - 1)
            elif tag == "a":
                href = (node.attributes.get("href") or "").strip()
                shown = node.text(deep=True).strip()
                if href.startswith(("http://", "https://")) and href not in shown:
                    current.append(f" <{href}> ")
            elif tag in _BLOCK:
                newline()
            continue
        if tag == "-text":
            current.append(node.text_content or "")
            continue
        if tag in _SKIP or tag.startswith("-"):
            continue
        if tag == "br":
            newline()
            continue
        if tag in _CELL:
            current.append(" ")
        if tag == "blockquote":
            newline()
            depth_quote += 1
        elif tag in _BLOCK:
            newline()
        stack.append((node, True))
        children: list[LexborNode] = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, False) for c in reversed(children))
    newline()
    return "\n".join(lines).strip("\n")


_PEEK = re.compile(rb"^(from|subject)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def peek_headers(raw: bytes) -> tuple[str, str]:
    """From and Subject of bytes that did not parse, as plain text for people to recognise
    the message by (undecoded, NUL and control characters dropped); '' when absent."""
    found: dict[str, str] = {}
    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for match in _PEEK.finditer(head):
        name = match.group(1).decode("ascii").lower()
        text = match.group(2)[:MAX_HEADER_CHARS].decode("utf-8", "replace")
        found.setdefault(name, "".join(ch for ch in text if ch.isprintable()).strip())
    return found.get("from", ""), found.get("subject", "")


# --- mailboxes --------------------------------------------------------------------------------


def iter_mbox(path: Path) -> Iterator[bytes]:
    """Each message of an mbox file as raw bytes (From_ lines removed)."""
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            try:
                yield box.get_bytes(key)
            except (KeyError, ValueError):
                continue
    finally:
        box.close()


def count_mbox(path: Path) -> int:
    box = mailbox.mbox(str(path), create=False)
    try:
        return len(box)
    finally:
        box.close()


__all__ = [
    "Address",
    "Attachment",
    "MalformedEmail",
    "ParsedEmail",
    "count_mbox",
    "html_to_text",
    "iter_mbox",
    "parse_email",
    "peek_headers",
    "storable",
]
