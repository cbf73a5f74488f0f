"""Credentials at rest: Fernet (AES-128-CBC + HMAC) with a key derived from CREDENTIALS_KEY.

Tokens are decrypted only inside a connector, right before a platform call; nothing else in the
product ever sees them, and they are never rendered back or logged.
"""

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted (wrong CREDENTIALS_KEY, or tampered data)."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(("inbox-credentials:" + settings.CREDENTIALS_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_credentials(credentials: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(credentials).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        data = json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable("stored credentials cannot be decrypted") from None
    if not isinstance(data, dict):
        raise CredentialsUnreadable("stored credentials are not a mapping")
    return data
