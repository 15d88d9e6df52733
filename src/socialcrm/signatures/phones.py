"""Phone numbers in a signature line, through libphonenumber (region: the sender's country TLD,
then the tenant's default), typed by the label next to them (mobile, fax, ...). Pure: no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from socialcrm.signatures.fields import Phone

_LABEL_WINDOW = 40  # a phone label ("Tel.:", "Handy") sits within this many characters
# Labels in front of phone numbers, grouped by the communication type they mean.
_PHONE_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "mobile",
        re.compile(
            r"(mobile|mobil|mob|cell|cellular|handy|portable|port|móvil|movil|celular|"
            r"cellulare|cell\.|gsm|m)\b",
            re.IGNORECASE,
        ),
    ),
    ("fax", re.compile(r"(fax|telefax|télécopie|f)\b", re.IGNORECASE)),
    ("home", re.compile(r"(home|privat|domicile)\b", re.IGNORECASE)),
    (
        "business",
        re.compile(
            r"(tel|tél|tele|phone|telephone|téléphone|telefon|teléfono|telefono|telefone|"
            r"office|direct|direkt|durchwahl|work|fon|ph|t|p|o|d|b|w)\b",
            re.IGNORECASE,
        ),
    ),
)
PHONE_CANDIDATE = re.compile(r"(?<![\w@/.])(?:\+|00|\()?\d[\d \t().\-/\u00a0]{5,24}\d(?![\w@])")
_EXTENSION = re.compile(r"^\s*(ext\.?|x|extension|durchwahl|poste)\s*\d{1,6}", re.IGNORECASE)
# Country-code TLDs whose numbering plan we trust to read national numbers of the sender.
_TLD_REGION = {
    "de": "DE", "at": "AT", "ch": "CH", "fr": "FR", "be": "BE", "lu": "LU", "nl": "NL",
    "es": "ES", "pt": "PT", "it": "IT", "uk": "GB", "ie": "IE", "pl": "PL", "cz": "CZ",
    "se": "SE", "no": "NO", "dk": "DK", "fi": "FI", "jp": "JP", "br": "BR", "mx": "MX",
    "ar": "AR", "au": "AU", "nz": "NZ", "ca": "CA", "in": "IN", "gr": "GR", "hu": "HU",
}  # fmt: skip


def phone_regions(author_email: str, default: str) -> tuple[str, ...]:
    tld = author_email.rpartition(".")[2].lower()
    tld_region = _TLD_REGION.get(tld)
    if tld_region and tld_region != default:
        return (tld_region, default)
    return (default,)


def find_phones(line: str, regions: tuple[str, ...], default_type: str) -> list[Phone]:
    phones: list[Phone] = []
    mostly_phone = is_mostly_phone(line)
    for match in PHONE_CANDIDATE.finditer(line):
        candidate = match.group(0).strip()
        digits = sum(ch.isdigit() for ch in candidate)
        if digits < 7 or digits > 17:
            continue
        label = label_before(line, match.start()) or _label_after(line, match.end())
        if label is None and not mostly_phone:
            continue
        number = _parse_phone(candidate, regions)
        if number is None:
            continue
        phone_type = label or default_type
        phones.append(
            Phone(
                number=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                display=phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                ),
                type=phone_type,
            )
        )
    return phones


def is_mostly_phone(line: str) -> bool:
    """Unlabelled numbers count only when they are (nearly) the whole line or | part: at most
    three letters besides them (a number candidate has no letters of its own)."""
    return sum(ch.isalpha() for ch in line) <= 3


_LABEL_BOUNDARY = re.compile(r"\s*(?:\||•|·|,|;|\t|\s{3,})\s*|\d")


def label_before(line: str, position: int) -> str | None:
    """The type of the label right in front of ``position`` (``Tel.:``, ``M``, ``Handy``).
    Only the last ``_LABEL_WINDOW`` characters are read: a label is short, and re-reading the
    whole prefix for every number on a line made a long line quadratic."""
    before = line[max(0, position - _LABEL_WINDOW) : position]
    tail = _LABEL_BOUNDARY.split(before)[-1].strip()
    tail = tail.rstrip(":.-\u2013) ").strip()
    if not tail or len(tail) > 24:
        return None
    tail = tail.split()[-1] if " " in tail and len(tail.split()[-1]) > 2 else tail
    tail = re.sub(r"[:.\-(]+$", "", tail).strip()
    for phone_type, pattern in _PHONE_LABELS:
        if pattern.fullmatch(tail) or pattern.fullmatch(tail.split()[0] if tail else ""):
            return phone_type
    return None


def _label_after(line: str, position: int) -> str | None:
    """US-style trailing labels: ``(646) 555-0177 office | (917) 555-0162 mobile``."""
    after = _LABEL_BOUNDARY.split(line[position : position + _LABEL_WINDOW], maxsplit=1)[0]
    word = after.strip(" ()[]:.-").lower()
    if not word or " " in word or len(word) > 12:
        return None
    for phone_type, pattern in _PHONE_LABELS:
        if len(word) > 1 and pattern.fullmatch(word):
            return phone_type
    return None


@lru_cache(maxsize=4096)
def _parse_phone_cached(candidate: str, region: str) -> phonenumbers.PhoneNumber | None:
    text = re.sub(r"\(0\)", " ", candidate)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _parse_phone(candidate: str, regions: tuple[str, ...]) -> phonenumbers.PhoneNumber | None:
    for region in regions:
        number = _parse_phone_cached(candidate, region)
        if number is not None:
            return number
        if candidate.lstrip("(").startswith(("+", "00")):
            return None
    return None
