"""One parsed message to its participants and what their signatures say. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from socialcrm.signatures.addresses import is_role_address
from socialcrm.signatures.extract import extract_signature
from socialcrm.signatures.fields import SignatureFields
from socialcrm.signatures.mime import Address, ParsedEmail
from socialcrm.signatures.thread import split_thread


@dataclass(slots=True)
class Participant:
    email: str
    display_name: str
    kind: str  # top | reply | forward
    fields: SignatureFields


def analyse(
    parsed: ParsedEmail, *, region: str = "US", default_phone_type: str = "business"
) -> list[Participant]:
    """Every author in the thread, newest first, one entry per address."""
    participants: dict[str, Participant] = {}
    for segment in split_thread(parsed.text, parsed.sender):
        author = segment.author
        fields = extract_signature(
            segment.text,
            author_name="" if is_role_address(author.email) else author.name,
            author_email=author.email,
            region=region,
            default_phone_type=default_phone_type,
        )
        email = author.email or _own_address(fields)
        if not email:
            continue
        if email in participants:
            _merge(participants[email].fields, fields)
            continue
        participants[email] = Participant(
            email=email, display_name=author.name, kind=segment.kind, fields=fields
        )
    if parsed.sender and parsed.sender.email not in participants:
        participants[parsed.sender.email] = Participant(
            email=parsed.sender.email,
            display_name=parsed.sender.name,
            kind="top",
            fields=SignatureFields(),
        )
    return list(participants.values())


def _own_address(fields: SignatureFields) -> str:
    """An author quoted without an address ("Bob wrote:") is known by the one in the signature."""
    return fields.emails[0] if len(fields.emails) == 1 else ""


def _merge(target: SignatureFields, extra: SignatureFields) -> None:
    """The newest signature wins; older ones only fill gaps."""
    for attr in ("name", "title", "company"):
        if not getattr(target, attr) and getattr(extra, attr):
            setattr(target, attr, getattr(extra, attr))
    for phone in extra.phones:
        if all(p.number != phone.number for p in target.phones):
            target.phones.append(phone)
    for email in extra.emails:
        if email not in target.emails:
            target.emails.append(email)
    for site in extra.websites:
        if site not in target.websites:
            target.websites.append(site)
    for profile in extra.profiles:
        if all(p.url != profile.url for p in target.profiles):
            target.profiles.append(profile)


__all__ = ["Address", "Participant", "analyse"]
