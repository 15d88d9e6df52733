"""Where a message's signature is: the lines after a ``-- `` delimiter, a valediction, the
author's name, or else a trailing paragraph of contact details; mobile-client lines and legal
disclaimers are cut first. Pure: no I/O.
"""

from __future__ import annotations

import re

from socialcrm.signatures.links import BARE_DOMAIN, EMAIL, URL, is_standalone, standalone_parts
from socialcrm.signatures.names import VALEDICTION, looks_like_name
from socialcrm.signatures.phones import PHONE_CANDIDATE, is_mostly_phone, label_before

# Every bound below keeps the work linear in the message: a mail is anyone's input, and one
# 400 KB "Tel:" line used to cost minutes of CPU. A signature line is short (the corpus' longest
# is 164 characters), so a longer one is cut: past that it is prose, a table dump or an attack.
MAX_BLOCK_LINES = 16
MAX_LINE_CHARS = 500
MAX_BLOCK_CHARS = 2_000
_NOISE = re.compile(
    r"^\s*(sent from my|sent from (mail|outlook|yahoo)|sent with |get outlook for|"
    r"envoy[ée] de (mon|ma)|envoy[ée] depuis|von meinem .* gesendet|gesendet von|"
    r"enviado desde|enviado do meu|inviato da|verzonden vanaf|verstuurd vanaf|"
    r"wys[łl]ane z|skickat fr[åa]n|download outlook)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"(confidential|intended (solely )?(only )?for|intended recipient|privileged|disclaimer|"
    r"if you (have )?receive[d]? this|vertraulich|nicht der (richtige|beabsichtigte) "
    r"empf[äa]nger|diese e-?mail (enth[äa]lt|ist)|confidentiel|destinataire|ce (message|courriel)|"
    r"riservat|destinatario|confidencial|este (mensaje|correo)|vertrouwelijk|please consider the "
    r"environment|think before you print|bitte denken sie an die umwelt|"
    r"sitz der gesellschaft|registergericht|amtsgericht|handelsregister|registered (office|in "
    r"england)|company (registration|number)|rcs |siret|ust-?id|vat (no|number|reg)|"
    r"unsubscribe|abmelden|se d[ée]sinscrire|darse de baja)",
    re.IGNORECASE,
)


def signature_block(text: str, author_name: str = "") -> list[str]:
    """The lines of the signature at the end of ``text`` (empty when there is none)."""
    lines = _clean_lines(text)
    start = _block_start(lines, author_name)
    if start is None:
        return []
    block: list[str] = []
    size = 0
    for line in lines[start : start + MAX_BLOCK_LINES]:
        size += len(line)
        if size > MAX_BLOCK_CHARS:
            break
        block.append(line)
    while block and not block[-1].strip():
        block.pop()
    return block


def _capped(line: str) -> str:
    """The first ``MAX_LINE_CHARS`` of a line, cut at a space so no number is halved."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    cut = line[:MAX_LINE_CHARS]
    space = cut.rfind(" ")
    return cut[:space] if space > MAX_LINE_CHARS // 2 else cut


def _clean_lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _capped(raw).rstrip().replace("\u00a0", " ").replace("\u200b", "")
        if line.lstrip().startswith(">"):
            continue
        if _NOISE.match(line):
            continue
        lines.append(line)
    # A disclaimer paragraph ends the useful part of the message.
    cut = len(lines)
    paragraph = 0  # where the paragraph of line i starts (kept as we go: no walking back)
    for i, line in enumerate(lines):
        if not line.strip():
            paragraph = i + 1
        elif paragraph > 0 and _DISCLAIMER.search(line):
            cut = paragraph
            break
    lines = lines[:cut]
    while lines and (not lines[-1].strip() or set(lines[-1].strip()) <= set("-_=*~")):
        lines.pop()
    return lines


def _paragraph_start(lines: list[str], index: int) -> int:
    while index > 0 and lines[index - 1].strip():
        index -= 1
    return index


def _block_start(lines: list[str], author_name: str) -> int | None:
    if not lines:
        return None
    window = max(0, len(lines) - 25)
    for i in range(len(lines) - 1, window - 1, -1):
        if lines[i] in ("-- ", "--") or lines[i].strip() == "--":
            return i + 1
    for i in range(len(lines) - 1, window - 1, -1):
        match = VALEDICTION.match(lines[i])
        if match and len(lines[i]) <= 60:
            rest = match.group("rest").strip()
            if rest and not looks_like_name(rest):
                continue
            return i if rest else i + 1
    if author_name.split():
        first = author_name.split()[0].casefold()
        full = " ".join(author_name.split()).casefold()
        for i in range(len(lines) - 1, window - 1, -1):
            line = lines[i].strip().casefold()
            if line and (line.startswith(full) or line in (first, first + ".")):
                return i
    return _trailing_contact_paragraph(lines)


def _trailing_contact_paragraph(lines: list[str]) -> int | None:
    end = len(lines)
    start = _paragraph_start(lines, end - 1)
    paragraph = lines[start:end]
    if len(paragraph) > 10 or not any(_has_contact_detail(line) for line in paragraph):
        return None
    if any(len(line) > 90 or not _short_line(line) for line in paragraph):
        return None
    # The name often stands alone in the paragraph just above the details.
    if start >= 2 and not lines[start - 1].strip():
        above = _paragraph_start(lines, start - 2)
        if start - 1 - above <= 3 and looks_like_name(lines[above].strip()):
            return above
    return start


def _has_contact_detail(line: str) -> bool:
    if EMAIL.search(line) or URL.search(line):
        return True
    domain = BARE_DOMAIN.search(line)
    if domain and is_standalone(standalone_parts(line), domain.group(0)):
        return True
    phone = PHONE_CANDIDATE.search(line)
    if phone is None:
        return False
    return label_before(line, phone.start()) is not None or is_mostly_phone(line)


def _short_line(line: str) -> bool:
    """A signature line, not a sentence: few words besides its contact details."""
    rest = EMAIL.sub(" ", URL.sub(" ", line))
    return len(re.findall(r"[^\W\d_]{2,}", rest)) <= 4 or not _has_contact_detail(line)
