"""What a participant's signature offers, each value with the key that makes it unique, and
what a Contact already has in those keys; the Contact is found by address (through ``crm``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy.orm import Session

from socialcrm.crm import phones as crm_phones
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.signatures.links import website_key

MAX_SOURCES = 10


@dataclass(frozen=True, slots=True)
class Candidate:
    field: str
    key: str
    value: dict[str, Any]


def candidates(participant_record: dict[str, Any]) -> list[Candidate]:
    """Every value a participant's signature offers, with the key that makes it unique."""
    f = participant_record["fields"]
    found: list[Candidate] = []
    for attr in ("name", "title", "company"):
        if f.get(attr):
            found.append(Candidate(attr, text_key(f[attr]), {"text": f[attr]}))
    for phone in f.get("phones", []):
        found.append(Candidate("phones", phone["number"], dict(phone)))
    for address in f.get("emails", []):
        found.append(Candidate("emails", address.lower(), {"email": address.lower()}))
    for site in f.get("websites", []):
        found.append(Candidate("website", website_key(site), {"url": site}))
    for profile in f.get("profiles", []):
        key = f"{profile['network']}:{profile['handle'].lower()}"
        found.append(Candidate("handles", key, dict(profile)))
    return found


def text_key(text: str) -> str:
    return " ".join(text.casefold().split())[:300]


def contact_keys(contact: Contact, region: str) -> dict[str, set[str]]:
    """What the Contact already has, in the keys ``candidates`` uses."""
    phones: set[str] = set()
    for raw in crm_phones.numbers(contact.phones or []):
        try:
            number = phonenumbers.parse(raw, region)
            phones.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            phones.add(raw)
    handles = {f"{h.get('network')}:{str(h.get('handle', '')).lower()}" for h in contact.handles}
    return {
        "name": {text_key(contact.name)},
        "title": {text_key(contact.title)} if contact.title else set(),
        "company": {text_key(contact.company)} if contact.company else set(),
        "phones": phones,
        "emails": {str(e).lower() for e in contact.emails or []},
        "website": {website_key(contact.website)} if contact.website else set(),
        "handles": handles,
    }


def is_new(candidate: Candidate, keys: dict[str, set[str]]) -> bool:
    return candidate.key not in keys.get(candidate.field, set())


def find_contact_by_email(session: Session, address: str) -> Contact | None:
    address = address.lower()
    page = crm.list_page(session, Contact, limit=crm.MAX_LIMIT, cursor=None, query=address)
    for contact in page.items:
        if address in {str(e).lower() for e in contact.emails}:
            return contact  # type: ignore[no-any-return]
    return None


def create_contact(session: Session, address: str, name: str) -> Contact:
    contact = crm.create(
        session, Contact, {"name": (name or address.partition("@")[0])[:200], "emails": [address]}
    )
    return contact
