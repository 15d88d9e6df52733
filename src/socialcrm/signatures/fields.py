"""What a signature says about its author (the values extraction fills), and the cap on how
many values of a kind one signature may offer. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_VALUES = 10  # phones, emails, websites or profiles one signature may offer


@dataclass(frozen=True, slots=True)
class Phone:
    number: str  # E.164
    display: str  # international format
    type: str  # mobile | fax | home | business | the tenant's default


@dataclass(frozen=True, slots=True)
class Profile:
    network: str
    handle: str
    url: str


@dataclass(slots=True)
class SignatureFields:
    name: str = ""
    title: str = ""
    company: str = ""
    phones: list[Phone] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    websites: list[str] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    block: str = ""

    def is_empty(self) -> bool:
        return not (
            self.name
            or self.title
            or self.company
            or self.phones
            or self.emails
            or self.websites
            or self.profiles
        )
