"""Signature extraction on the labelled corpus, and its building blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.signatures.addresses import is_free_mail, is_role_address
from socialcrm.signatures.block import signature_block
from socialcrm.signatures.evaluation import evaluate
from socialcrm.signatures.extract import extract_signature
from socialcrm.signatures.names import format_name
from socialcrm.signatures.thread import parse_author, split_thread

CORPUS = Path(__file__).parent / "corpus"
GOALS = {
    "phones": (0.95, 0.90),
    "emails": (0.95, 0.90),
    "websites": (0.95, 0.90),
    "profiles": (0.95, 0.90),
    "name": (0.85, 0.85),
    "title": (0.85, 0.85),
    "company": (0.85, 0.85),
}


def test_corpus_is_big_and_varied() -> None:
    labels = json.loads((CORPUS / "expected.json").read_text())
    assert len(labels) >= 60
    names = " ".join(labels)
    for kind in ("reply", "forward", "html", "no-sig", "de-", "fr-", "es-", "it-", "nl-"):
        assert kind in names


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return evaluate(CORPUS)


@pytest.mark.parametrize("field", sorted(GOALS))
def test_corpus_precision_and_recall_meet_the_goal(report, field: str) -> None:  # type: ignore[no-untyped-def]
    precision, recall = GOALS[field]
    score = report.scores[field]
    misses = [m for m in report.misses if f" {field}:" in m]
    assert score.precision >= precision, misses
    assert score.recall >= recall, misses


@pytest.mark.parametrize(
    ("line", "number", "kind"),
    [
        ("Tel.: +49 (0)89 123 456 78", "+498912345678", "business"),
        ("Mobil: 0171 2345678", "+491712345678", "mobile"),
        ("Handy 0160 98765432", "+4916098765432", "mobile"),
        ("Fax: 040 / 123 456 99", "+494012345699", "fax"),
        ("Téléphone : +33 1 42 68 53 00", "+33142685300", "business"),
        ("Portable : +33 6 12 34 56 78", "+33612345678", "mobile"),
        ("Móvil: +34 612 345 678", "+34612345678", "mobile"),
        ("M: +1 (628) 555-0187", "+16285550187", "mobile"),
        ("+1 212 555 0147", "+12125550147", "default"),
    ],
)
def test_phone_labels_in_several_languages(line: str, number: str, kind: str) -> None:
    text = f"Hello\n\nBest regards,\nJane Doe\n{line}\n"
    fields = extract_signature(text, region="DE", default_phone_type="default")
    assert [(p.number, p.type) for p in fields.phones] == [(number, kind)]


def test_numbers_in_the_body_are_not_phones() -> None:
    text = (
        "Order 2025-000341 from 12.02.2025, tracking 1Z999AA10123456784, call 555 0147.\n\nMartin\n"
    )
    assert extract_signature(text, author_name="Martin Gray").phones == []


def test_noise_and_disclaimers_are_cut() -> None:
    text = (
        "ok\n\nBest,\nJane Doe\nHead of Sales\n\n"
        "This e-mail is confidential and intended solely for the addressee. Call +1 800 555 0100.\n"
        "Sent from my iPhone\n"
    )
    fields = extract_signature(text)
    assert fields.phones == []
    assert "confidential" not in fields.block
    assert (fields.name, fields.title) == ("Jane Doe", "Head of Sales")


def test_social_handles_by_label_and_url() -> None:
    text = (
        "Thanks\n\n-- \nJordan Ellis\nTwitter: @jordan_e\nMastodon: @jordan@hachyderm.io\n"
        "https://www.linkedin.com/in/jordan-ellis/\n"
    )
    urls = [p.url for p in extract_signature(text).profiles]
    assert urls == [
        "https://x.com/jordan_e",
        "https://hachyderm.io/@jordan",
        "https://www.linkedin.com/in/jordan-ellis",
    ]


def test_no_signature_means_no_fields() -> None:
    assert signature_block("Works for me, see you at 3.\n\nSent from my iPhone\n") == []
    assert extract_signature("Yes!\n").is_empty()


@pytest.mark.parametrize(
    ("raw", "name", "email"),
    [
        ("Bob Miller <bob@example.com>", "Bob Miller", "bob@example.com"),
        ("2025 at 10:12 AM Bob Miller <bob@example.com>", "Bob Miller", "bob@example.com"),
        ("Bob Miller [mailto:bob@example.com]", "Bob Miller", "bob@example.com"),
        ("Miller, Bob <bob@example.com>", "Bob Miller", "bob@example.com"),
        ("bob@example.com", "", "bob@example.com"),
    ],
)
def test_reply_headers_name_the_quoted_author(raw: str, name: str, email: str) -> None:
    author = parse_author(raw)
    assert (author.name, author.email) == (name, email)


def test_forwarded_and_quoted_authors_are_split() -> None:
    text = (
        "FYI\n\n---------- Forwarded message ---------\nFrom: Priya Raman <priya@lumen.ai>\n"
        "Date: Wed, 5 Mar 2025\nSubject: Hi\nTo: <info@x.com>\n\nHello\n\nPriya Raman\n"
    )
    segments = split_thread(text, None)
    assert [(s.kind, s.author.email) for s in segments] == [
        ("top", ""),
        ("forward", "priya@lumen.ai"),
    ]


def test_names_are_normalised() -> None:
    assert format_name("Dr. Sarah Mitchell") == "Sarah Mitchell"
    assert format_name("ALAN TURNER") == "Alan Turner"
    assert format_name("Sanne de Vries") == "Sanne de Vries"
    assert format_name("Rob") == ""


def test_free_mail_and_role_addresses() -> None:
    assert is_free_mail("lisa@gmail.com") and is_free_mail("x@GMX.de")
    assert not is_free_mail("megan@brightpath.io")
    for role in ("noreply@x.com", "no-reply@x.com", "info@x.com", "support+eu@x.com"):
        assert is_role_address(role), role
    assert not is_role_address("megan.carter@x.com")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.text(max_size=40), st.sampled_from(["US", "DE", "FR", "GB"]))
def test_extraction_never_crashes(text: str, author: str, region: str) -> None:
    fields = extract_signature(text, author_name=author, author_email="a@b.de", region=region)
    for phone in fields.phones:
        assert phone.number.startswith("+")
    for address in fields.emails:
        assert "@" in address


def test_labels_after_the_number() -> None:
    text = "Thanks,\nJames\n\nJames Carter\n(646) 555-0177 office | (917) 555-0162 mobile\n"
    fields = extract_signature(text, author_name="James Carter", region="US")
    assert [(p.number, p.type) for p in fields.phones] == [
        ("+16465550177", "business"),
        ("+19175550162", "mobile"),
    ]
