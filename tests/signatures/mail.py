"""Building raw test messages."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


def message(
    *,
    sender: str = "Megan Carter <megan.carter@brightpath.io>",
    to: str = "sam@ourcrm.test",
    subject: str = "Re: Pricing",
    body: str = "",
    message_id: str = "<m1@test>",
    date: datetime | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg.set_content(body)
    return bytes(msg)


SIGNED = """Hi Sam,

thanks, the quote works for us.

Best regards,
Megan Carter
Senior Account Executive | BrightPath Analytics
T: +1 (415) 555-0132 | M: +1 (628) 555-0187
www.brightpath.io
linkedin.com/in/megancarter
"""
