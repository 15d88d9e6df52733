"""The record forms as pure functions: a form's rows, its API body, and errors in plain words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.datastructures import ImmutableMultiDict

from socialcrm.crm import forms
from socialcrm.crm.schemas import CampaignIn, ContactIn, TicketIn


def _errors(schema: type, fields: tuple[forms.Field, ...], data: dict[str, object]) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema.model_validate(forms.body(fields, data))  # type: ignore[attr-defined]
    return forms.plain_errors(fields, caught.value)


def test_blank_rows_are_dropped_and_types_follow_their_values() -> None:
    form = ImmutableMultiDict(
        [
            ("name", "Ada"),
            ("emails_kind", "work"),
            ("emails_value", " ada@acme.example.com "),
            ("emails_kind", "personal"),
            ("emails_value", ""),
            ("emails_kind", ""),
            ("emails_value", "ada@home.example.com"),
            ("phones_kind", "mobile"),
            ("phones_value", "+1 555 0100"),
            ("phones_kind", ""),
            ("phones_value", "+1 555 0199"),
            ("handles_kind", "x"),
            ("handles_value", "@ada"),
            ("owner_id", "7"),
            ("account_id", ""),
        ]
    )
    values = forms.read(forms.CONTACT, form)
    assert values["emails"] == [("work", "ada@acme.example.com"), ("", "ada@home.example.com")]
    assert values["enrichment_consent"] is False  # an unticked box is not sent at all
    body = forms.body(forms.CONTACT, values)
    assert body["emails"] == ["ada@acme.example.com", "ada@home.example.com"]
    assert body["email_types"] == {"ada@acme.example.com": "work"}
    assert body["phones"] == [
        {"number": "+1 555 0100", "type": "mobile"},
        {"number": "+1 555 0199", "type": "business"},  # no type chosen: the default
    ]
    assert body["handles"] == [{"network": "x", "handle": "@ada"}]
    assert (body["owner_id"], body["account_id"]) == (7, None)
    assert "tier" not in body  # nothing chosen: the schema's default
    contact = ContactIn.model_validate(body)
    assert contact.handles[0].handle == "ada"


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"name": " "}, "name", "Name is required."),
        ({"name": "A", "emails": [("", "a@b.test"), ("", "nope")]}, "emails.1", "second email"),
        ({"name": "A", "phones": [("", "call me")]}, "phones.0", "digits, spaces"),
        ({"name": "A", "handles": [("myspace", "tom")]}, "handles.0", "unknown network"),
        ({"name": "A", "website": "data:text/html,hi"}, "website", "http(s) address"),
        ({"name": "A", "title": "t" * 201}, "title", "at most 200 characters"),
        ({"name": "A", "owner_id": "someone"}, "owner_id", "choose one from the list"),
    ],
)
def test_contact_errors_are_in_plain_words_beside_their_field(
    data: dict[str, object], key: str, words: str
) -> None:
    errors = _errors(ContactIn, forms.CONTACT, data)
    assert words in errors[key]
    assert "Value error" not in errors[key] and "String should" not in errors[key]


def test_a_wrong_email_is_said_once_not_again_for_its_type() -> None:
    errors = _errors(ContactIn, forms.CONTACT, {"name": "A", "emails": [("work", "nope")]})
    assert list(errors) == ["emails.0"]


def test_dates_are_whole_days_and_a_bad_one_is_said_plainly() -> None:
    values = {"name": "Spring", "starts_at": "2025-03-01", "ends_at": "2025-03-31"}
    campaign = CampaignIn.model_validate(forms.body(forms.CAMPAIGN, values))
    assert campaign.starts_at is not None and campaign.ends_at is not None
    assert (campaign.starts_at.isoformat(), campaign.ends_at.isoformat()) == (
        "2025-03-01T00:00:00+00:00",
        "2025-03-31T23:59:59+00:00",
    )
    errors = _errors(CampaignIn, forms.CAMPAIGN, {"name": "S", "starts_at": "next week"})
    assert errors == {"starts_at": "Starts on is not a date (use the date picker, or YYYY-MM-DD)."}


def test_a_new_form_starts_from_the_defaults_and_the_links_references() -> None:
    values = forms.new(forms.TICKET, ImmutableMultiDict([("contact_id", "5"), ("subject", "x")]))
    assert values["contact_id"] == "5"  # hidden reference from the link
    assert values["subject"] == ""  # a typed value cannot be smuggled in by a link
    assert (values["priority"], values["queue"], values["status"]) == ("normal", "general", "open")
    TicketIn.model_validate(forms.body(forms.TICKET, {**values, "subject": "Help"}))
