"""Events networks push to us: signature and challenge checks, and payloads into ``Incoming``.

Two styles:

- ``x`` (X Account Activity API): a GET challenge ``crc_token`` answered with
  ``{"response_token": "sha256=" + base64(HMAC-SHA256(secret, crc_token))}``; each POST signed
  in ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(secret, body)>``; payloads carry
  ``tweet_create_events`` (v1.1 tweets) and ``direct_message_events``.
- ``meta`` (Lead Ads): a GET ``hub.mode=subscribe`` with ``hub.verify_token`` echoing
  ``hub.challenge``; POSTs signed in ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret,
  body)>``; ``leadgen`` changes. Meta sends only ids; a form's answers are read from
  ``field_data`` when the change carries them (as a relay or a test console does).

Pure: no database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from socialcrm.listening.pipeline import Incoming

STYLES = ("x", "meta")

# X's crc_token is a base64 string (standard or URL-safe alphabet). Only such tokens are
# answered: X signs POST bodies with the same HMAC as the CRC answer, so a CRC answer for a
# token that is a JSON object would be a valid signature for a forged event. No token of this
# alphabet can start with "{", and the receiver accepts nothing but a JSON object.
CRC_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{8,128}")


class InvalidChallenge(ValueError):
    """A crc_token that is not what X sends: it is never signed."""


def valid_crc_token(crc_token: str) -> bool:
    return CRC_TOKEN.fullmatch(crc_token) is not None


def _mac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def x_crc_response(secret: str, crc_token: str) -> str:
    if not valid_crc_token(crc_token):
        raise InvalidChallenge("crc_token must be 8 to 128 base64 characters")
    return "sha256=" + base64.b64encode(_mac(secret, crc_token.encode())).decode()


def x_signature(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(_mac(secret, body)).decode()


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _mac(secret, body).hex()


def verify(style: str, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    if style == "x":
        given, expected = headers.get("x-twitter-webhooks-signature", ""), x_signature(secret, body)
    else:
        given, expected = headers.get("x-hub-signature-256", ""), meta_signature(secret, body)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _x_time(value: Any) -> datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any, scale: float = 1.0) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(_str(value)) / scale, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _x_tweet(tweet: dict[str, Any], account_id: int | None) -> Incoming | None:
    tweet_id, user = _str(tweet.get("id_str") or tweet.get("id")), _obj(tweet.get("user"))
    if not tweet_id:
        return None
    extended = _obj(tweet.get("extended_tweet"))
    text = _str(extended.get("full_text") or tweet.get("full_text") or tweet.get("text"))
    coords = _list(_obj(tweet.get("coordinates")).get("coordinates"))
    lat = lon = None
    if len(coords) == 2 and all(isinstance(c, (int, float)) for c in coords):
        lon, lat = float(coords[0]), float(coords[1])
    handle = _str(user.get("screen_name"))
    return Incoming(
        network="x",
        external_id=tweet_id,
        text=text,
        author_user_id=_str(user.get("id_str") or user.get("id")),
        author_handle=handle,
        author_name=_str(user.get("name")),
        posted_at=_x_time(tweet.get("created_at")),
        account_id=account_id,
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
        in_reply_to_id=_str(tweet.get("in_reply_to_status_id_str")) or None,
        language=_str(tweet.get("lang")) if _str(tweet.get("lang")) not in ("", "und") else "",
        lat=lat,
        lon=lon,
        country=_str(_obj(tweet.get("place")).get("country_code")),
    )


def parse_x(payload: Mapping[str, Any], account_id: int | None) -> list[Incoming]:
    own = _str(payload.get("for_user_id"))
    items: list[Incoming] = []
    for tweet in _list(payload.get("tweet_create_events")):
        item = _x_tweet(_obj(tweet), account_id)
        if item is not None and item.author_user_id != own:
            items.append(item)
    users = _obj(payload.get("users"))
    for event in _list(payload.get("direct_message_events")):
        event = _obj(event)
        create = _obj(event.get("message_create"))
        sender = _str(create.get("sender_id"))
        if event.get("type") != "message_create" or not sender or sender == own:
            continue
        who = _obj(users.get(sender))
        items.append(
            Incoming(
                network="x",
                external_id=f"dm:{_str(event.get('id'))}",
                text=_str(_obj(create.get("message_data")).get("text")),
                kind="dm",
                author_user_id=sender,
                author_handle=_str(who.get("screen_name")),
                author_name=_str(who.get("name")),
                posted_at=_epoch(event.get("created_timestamp"), 1000.0),
                account_id=account_id,
                conversation_id=f"dm:{sender}",
            )
        )
    return items


def parse_meta(
    payload: Mapping[str, Any], network: str, account_id: int | None, campaign_id: int | None
) -> list[Incoming]:
    items: list[Incoming] = []
    for entry in _list(payload.get("entry")):
        for change in _list(_obj(entry).get("changes")):
            change = _obj(change)
            value = _obj(change.get("value"))
            lead_id = _str(value.get("leadgen_id"))
            if change.get("field") != "leadgen" or not lead_id:
                continue
            fields = {
                _str(_obj(f).get("name")): ", ".join(_str(v) for v in _list(_obj(f).get("values")))
                for f in _list(value.get("field_data"))
                if _str(_obj(f).get("name"))
            }
            user_id = _str(value.get("user_id"))
            text = "; ".join(f"{k}: {v}" for k, v in fields.items()) or "Lead form submission"
            items.append(
                Incoming(
                    network=network,
                    external_id=f"leadgen:{lead_id}",
                    text=text,
                    kind="lead_form",
                    author_user_id=user_id or f"leadgen:{lead_id}",
                    author_handle=_str(value.get("handle")),
                    author_name=fields.get("full_name", ""),
                    posted_at=_epoch(value.get("created_time")),
                    account_id=account_id,
                    conversation_id=f"leadgen:{lead_id}",
                    details={
                        "form_id": _str(value.get("form_id")),
                        "ad_id": _str(value.get("ad_id")),
                        "fields": fields,
                    },
                    campaign_id=campaign_id,
                )
            )
    return items
