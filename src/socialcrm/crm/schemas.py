"""API shapes of the CRM records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

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
from socialcrm.crm import sla
from socialcrm.crm.models import (
    CampaignStatus,
    EmailType,
    LeadStatus,
    PhoneType,
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
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook", "instagram", "youtube", "tiktok")


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


Emails = Annotated[list[EmailStr], Field(max_length=20)]
Phones = Annotated[list[Phone], Field(max_length=20)]
EmailTypes = Annotated[dict[EmailStr, EmailType], Field(max_length=20)]
PhoneTypes = Annotated[dict[Phone, PhoneType], Field(max_length=20)]


class TypedContactPoints(Strict):
    """A type may be given only for an address or number the same request lists."""

    @model_validator(mode="after")
    def _types_name_listed_values(self) -> TypedContactPoints:
        for values, types, what in (
            (getattr(self, "emails", None), getattr(self, "email_types", None), "email"),
            (getattr(self, "phones", None), getattr(self, "phone_types", None), "phone"),
        ):
            if values is None or not types:
                continue
            unknown = [key for key in types if key not in values]
            if unknown:
                raise ValueError(f"{what} type given for {unknown[0]}, which is not listed")
        return self


class ContactIn(TypedContactPoints):
    name: Name
    emails: Emails = []
    phones: Phones = []
    email_types: EmailTypes = {}
    phone_types: PhoneTypes = {}
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


class ContactPatch(TypedContactPoints):
    name: Name | None = None
    emails: Emails | None = None
    phones: Phones | None = None
    email_types: EmailTypes | None = None
    phone_types: PhoneTypes | None = None
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


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ContactOut(Out):
    id: int
    name: str
    emails: list[str]
    phones: list[str]
    email_types: dict[str, str]
    phone_types: dict[str, str]
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
    created_at: datetime
    updated_at: datetime


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
