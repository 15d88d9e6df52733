"""API shapes of the CRM records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from socialcrm.core.db import MAX_ID, utcnow
from socialcrm.crm import phones, sla
from socialcrm.crm.models import (
    CampaignStatus,
    EmailType,
    LeadStatus,
    Priority,
    TicketStatus,
    Tier,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Industry = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
# A scheme (not a host's port, as in "acme.com:8080") at the start of a website.
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)")


def _web_scheme_only(value: str) -> str:
    """A website is shown as a link: only http(s), or no scheme at all ("acme.com").
    Anything else (``javascript:``, ``data:``) would run in the browser of whoever clicks."""
    scheme = _SCHEME.match(value)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise ValueError("a website must be an http(s) address or a bare domain")
    return value


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    AfterValidator(_web_scheme_only),
]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=40, pattern=r"^[0-9+().\s/-]+$"
    ),
]
PhoneType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=phones.MAX_TYPE_CHARS,
        pattern=r"^[A-Za-z][A-Za-z0-9 \-]*$",
    ),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook", "instagram", "youtube", "tiktok")
# How a Contact prefers to be reached: the direct channels, or one of the networks.
PREFERRED_CHANNELS = ("email", "phone", "sms", "whatsapp", "letter", *NETWORKS)
# A BCP 47 language tag of the usual shape: language, optional script, optional region
# ("en", "en-US", "zh-Hant-TW", "es-419").
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?$", re.I)


def _channel(value: str) -> str:
    if value not in PREFERRED_CHANNELS:
        raise ValueError(f"unknown channel {value!r}; one of {', '.join(PREFERRED_CHANNELS)}")
    return value


def _language_tag(value: str) -> str:
    """``EN_us`` -> ``en-US``: the tag in its canonical case, or a clear error."""
    match = _LANGUAGE_TAG.match(value.replace("_", "-"))
    if match is None:
        raise ValueError("language must be a BCP 47 tag such as 'en', 'en-US' or 'pt-BR'")
    language, script, region = match.groups()
    parts = [language.lower(), script.title() if script else "", region.upper() if region else ""]
    return "-".join(p for p in parts if p)


PreferredChannel = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True), AfterValidator(_channel)
]
LanguageTag = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=35), AfterValidator(_language_tag)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SocialHandle(Strict):
    network: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)]
    handle: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    user_id: Annotated[str, StringConstraints(max_length=200)] | None = None

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        if value not in NETWORKS:
            raise ValueError(f"unknown network {value!r}; one of {', '.join(NETWORKS)}")
        return value

    @field_validator("handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        value = value.removeprefix("@")
        if not value:
            raise ValueError("handle must not be empty")
        return value


class TypedPhone(Strict):
    """A phone and its communication type (business, mobile, home, fax, other, or a label of
    one's own); a plain string in its place means the default type, business."""

    number: Phone
    type: PhoneType = phones.DEFAULT_TYPE


def _typed(value: TypedPhone | str) -> TypedPhone:
    return value if isinstance(value, TypedPhone) else TypedPhone(number=value)


PhoneIn = Annotated[TypedPhone | Phone, AfterValidator(_typed)]


Emails = Annotated[list[EmailStr], Field(max_length=20)]
EmailTypes = Annotated[dict[EmailStr, EmailType], Field(max_length=20)]


class TypedEmails(Strict):
    """A type may be given only for an address the same request lists."""

    @model_validator(mode="after")
    def _types_name_listed_emails(self) -> TypedEmails:
        emails, types = getattr(self, "emails", None), getattr(self, "email_types", None)
        if emails is not None and types:
            unknown = [key for key in types if key not in emails]
            if unknown:
                raise ValueError(f"email type given for {unknown[0]}, which is not listed")
        return self


class ContactIn(TypedEmails):
    name: Name
    emails: Emails = []
    phones: Annotated[list[PhoneIn], Field(max_length=20)] = []
    email_types: EmailTypes = {}
    company: Short = ""
    title: Short = ""
    website: Url = ""
    location: Short = ""
    handles: Annotated[list[SocialHandle], Field(max_length=40)] = []
    tier: Tier = Tier.STANDARD
    owner_id: Id | None = None
    account_id: Id | None = None
    enrichment_consent: bool = False
    marketing_consent: bool = False
    preferred_channel: PreferredChannel | None = None
    language: LanguageTag | None = None


class ContactPatch(TypedEmails):
    name: Name | None = None
    emails: Emails | None = None
    phones: Annotated[list[PhoneIn], Field(max_length=20)] | None = None
    email_types: EmailTypes | None = None
    company: Short | None = None
    title: Short | None = None
    website: Url | None = None
    location: Short | None = None
    handles: Annotated[list[SocialHandle], Field(max_length=40)] | None = None
    tier: Tier | None = None
    owner_id: Id | None = None
    account_id: Id | None = None
    enrichment_consent: bool | None = None
    marketing_consent: bool | None = None
    preferred_channel: PreferredChannel | None = None
    language: LanguageTag | None = None


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PhoneOut(BaseModel):
    number: str
    type: str


class ContactOut(Out):
    id: int
    name: str
    emails: list[str]
    phones: list[PhoneOut]
    email_types: dict[str, str]
    company: str
    title: str
    website: str
    location: str
    handles: list[SocialHandle]
    tier: Tier
    owner_id: int | None
    account_id: int | None
    enrichment_consent: bool
    marketing_consent: bool
    preferred_channel: str | None
    language: str | None
    profile_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @field_validator("phones", mode="before")
    @classmethod
    def _typed_phones(cls, value: Any) -> Any:
        """Rows written before phones were typed (plain strings) read as the default type."""
        return phones.normalise(value) if isinstance(value, list) else value


class AccountIn(Strict):
    name: Name
    website: Url = ""
    industry: Industry = ""
    tier: Tier = Tier.STANDARD


class AccountPatch(Strict):
    name: Name | None = None
    website: Url | None = None
    industry: Industry | None = None
    tier: Tier | None = None


class AccountOut(Out):
    id: int
    name: str
    website: str
    industry: str
    tier: Tier
    created_at: datetime
    updated_at: datetime


class LeadIn(Strict):
    name: Name
    contact_id: Id | None = None
    source: Short = "manual"
    status: LeadStatus = LeadStatus.NEW
    notes: Text = ""
    campaign_id: Id | None = None
    owner_id: Id | None = None


class LeadPatch(Strict):
    name: Name | None = None
    contact_id: Id | None = None
    source: Short | None = None
    status: LeadStatus | None = None
    notes: Text | None = None
    campaign_id: Id | None = None
    owner_id: Id | None = None


class LeadSocialOut(Out):
    """Where a social Lead came from: read from listening's record of it, never copied."""

    network: str
    handle: str
    user_id: str | None = Field(description="the platform user id, when the network gave one")
    mention_id: int | None = Field(description="the mention or lead-form submission")
    mention_url: str
    form_id: str = Field(description="the lead form's id, for a lead-form submission")
    campaign_id: int | None
    routing_reason: str


class LeadOut(Out):
    id: int
    name: str
    contact_id: int | None
    source: str
    status: LeadStatus
    notes: str
    campaign_id: int | None
    owner_id: int | None
    social: LeadSocialOut | None = None
    created_at: datetime
    updated_at: datetime


class TicketIn(Strict):
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: Text = ""
    contact_id: Id | None = None
    status: TicketStatus = TicketStatus.OPEN
    priority: Priority = Priority.NORMAL
    queue: Short = "general"
    assignee_id: Id | None = None


class TicketPatch(Strict):
    subject: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
        | None
    ) = None
    description: Text | None = None
    contact_id: Id | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    queue: Short | None = None
    assignee_id: Id | None = None


class TicketOut(Out):
    id: int
    subject: str
    description: str
    contact_id: int | None
    status: TicketStatus
    priority: Priority
    queue: str
    assignee_id: int | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    sla_breached_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sla_breached(self) -> bool:
        """Flagged by the breach check, or overdue now and not yet flagged (the check runs
        every minute)."""
        return self.sla_breached_at is not None or sla.is_breached(
            self.first_response_due_at, self.first_responded_at, utcnow()
        )


class ActivityIn(Strict):
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    subject: Annotated[str, StringConstraints(max_length=300)] = ""
    body: Text = ""
    contact_id: Id | None = None
    ticket_id: Id | None = None
    lead_id: Id | None = None
    campaign_id: Id | None = None
    occurred_at: AwareDatetime | None = None


class ActivityPatch(Strict):
    subject: Annotated[str, StringConstraints(max_length=300)] | None = None
    body: Text | None = None
    contact_id: Id | None = None
    ticket_id: Id | None = None
    lead_id: Id | None = None
    campaign_id: Id | None = None


class ActivityOut(Out):
    id: int
    kind: str
    subject: str
    body: str
    contact_id: int | None
    ticket_id: int | None
    lead_id: int | None
    campaign_id: int | None
    social_account_id: int | None
    external_id: str
    occurred_at: datetime | None
    created_at: datetime


class CampaignIn(Strict):
    name: Name
    status: CampaignStatus = CampaignStatus.DRAFT
    tracking_tag: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class CampaignPatch(Strict):
    name: Name | None = None
    status: CampaignStatus | None = None
    tracking_tag: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = (
        None
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class CampaignOut(Out):
    id: int
    name: str
    status: CampaignStatus
    tracking_tag: str
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime
