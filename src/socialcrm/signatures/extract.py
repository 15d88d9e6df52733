"""Find a participant's signature block and read the contact details in it. Pure: no I/O.

This module reads a block's lines; the parts are ``block.py`` (where the signature is),
``phones.py``, ``links.py`` (emails, websites, social profiles) and ``names.py`` (name,
title, company), all on the values of ``fields.py``.

The block is what follows a ``-- `` delimiter, a valediction ("Best regards", "Mit
freundlichen Grüßen", "Cordialement" …), the author's name, or else a trailing paragraph that
carries contact details. Mobile-client lines ("Sent from my iPhone") and legal disclaimers are
cut first. Phones go through libphonenumber (region: the sender's country TLD, then the
tenant's default), e-mail addresses through email-validator, names through nameparser, and
social profiles through ``providers.handles`` (the discovery canonicaliser will replace it).
"""

from __future__ import annotations

from socialcrm.signatures.block import signature_block
from socialcrm.signatures.fields import MAX_VALUES, SignatureFields
from socialcrm.signatures.links import (
    BARE_DOMAIN,
    BSKY_HANDLE,
    EMAIL,
    FEDI_HANDLE,
    LABEL_NETWORK,
    SEPARATORS,
    SOCIAL_LABEL,
    URL,
    WEB_LABEL,
    add_profile,
    add_url,
    is_standalone,
    parse_profile,
    standalone_parts,
    valid_email,
)
from socialcrm.signatures.names import read_name_title_company
from socialcrm.signatures.phones import find_phones, phone_regions


def extract_signature(
    text: str,
    *,
    author_name: str = "",
    author_email: str = "",
    region: str = "US",
    default_phone_type: str = "business",
) -> SignatureFields:
    """Everything the signature at the end of ``text`` says about its author."""
    block = signature_block(text, author_name)
    fields = SignatureFields(block="\n".join(block))
    regions = phone_regions(author_email, region)
    text_lines: list[tuple[int, str]] = []
    for index, line in enumerate(block):
        stripped = line.strip()
        if not stripped:
            continue
        parts = [p.strip() for p in SEPARATORS.split(stripped) if p.strip()]
        text_parts = [
            part
            for part in parts
            if not _contact_details(part, fields, regions, default_phone_type)
        ]
        if len(text_parts) == len(parts):
            text_lines.append((index, stripped))
        elif text_parts:
            text_lines.append((index, " | ".join(text_parts)))
    read_name_title_company(text_lines, fields, author_name, author_email)
    return fields


def _contact_details(
    line: str, fields: SignatureFields, regions: tuple[str, ...], default_type: str
) -> bool:
    """Read phones, emails, URLs and handles from one line; True if it held any."""
    found = False
    remainder = line
    for pattern in (SOCIAL_LABEL, FEDI_HANDLE, BSKY_HANDLE):
        kept: list[str] = []
        last = 0
        for match in pattern.finditer(remainder):
            if pattern is SOCIAL_LABEL:
                network = LABEL_NETWORK[match.group("label").lower()]
                profile = parse_profile(match.group("value"), network)
            else:
                profile = parse_profile(match.group(0), None)
            if profile is not None:
                add_profile(fields, profile)
                kept += (remainder[last : match.start()], " ")
                last = match.end()
                found = True
        if last:
            remainder = "".join(kept) + remainder[last:]
    for match in URL.finditer(remainder):
        found |= add_url(fields, match.group(0))
    without_urls = URL.sub(" ", remainder)
    for match in EMAIL.finditer(without_urls):
        email = valid_email(match.group(0).rstrip("."))
        if email:
            found = True
            if email not in fields.emails and len(fields.emails) < MAX_VALUES:
                fields.emails.append(email)
    without_emails = EMAIL.sub(" ", without_urls)
    labelled_web = WEB_LABEL.match(line) is not None
    parts: set[str] | None = None
    for match in BARE_DOMAIN.finditer(without_emails):
        value = match.group(0)
        if not (labelled_web or "/" in value):
            parts = standalone_parts(without_emails) if parts is None else parts
            if not is_standalone(parts, value):
                continue
        found |= add_url(fields, value)
    for phone in find_phones(without_emails, regions, default_type):
        found = True
        if all(p.number != phone.number for p in fields.phones) and len(fields.phones) < MAX_VALUES:
            fields.phones.append(phone)
    return found or labelled_web
