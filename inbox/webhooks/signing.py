"""The signature on every webhook request, and the secret it is made with.

A request carries `X-Inbox-Timestamp` (unix seconds) and
`X-Inbox-Signature: sha256=<hex>`, the HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the
subscription's secret. Signing the timestamp with the body lets a receiver reject replays: a
captured request cannot be re-sent later with a fresh timestamp (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from channels_integrations.crypto import decrypt_credentials, encrypt_credentials

SIGNATURE_PREFIX = "sha256="


def new_secret() -> str:
    """A fresh signing secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def encrypt_secret(secret: str) -> str:
    """The secret as stored: encrypted with the channel credentials' key."""
    return encrypt_credentials({"secret": secret})


def decrypt_secret(secret_encrypted: str) -> str:
    """The stored secret in clear text, only to sign a request (raises CredentialsUnreadable)."""
    return str(decrypt_credentials(secret_encrypted).get("secret", ""))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Inbox-Signature value for this body sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
