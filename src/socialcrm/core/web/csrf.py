"""CSRF: every form of the UI carries the token its signed session cookie holds."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request

from socialcrm.core.errors import Forbidden

CsrfField = Annotated[str, Form(max_length=100)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, token: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), token):
        raise Forbidden("the form expired: reload the page and try again")
