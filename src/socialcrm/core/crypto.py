"""Secrets at rest: provider tokens and client secrets are stored encrypted (MultiFernet)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class SecretBox:
    """Encrypts with the first key, decrypts with any: keys rotate by prepending a new one."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one secret key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        return self._fernet.rotate(ciphertext.encode()).decode()


@lru_cache(maxsize=4)
def _box_for(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(list(keys))


def secret_box() -> SecretBox:
    from socialcrm.core.settings import get_settings

    return _box_for(tuple(get_settings().secret_keys))


class EncryptedString(TypeDecorator[str]):
    """A column whose value is Fernet-encrypted in the database and clear in Python."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return secret_box().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return secret_box().decrypt(value)
