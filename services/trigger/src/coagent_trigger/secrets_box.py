"""Encryption of webhook signing secrets at rest.

A webhook signature is an HMAC keyed by the secret, so verifying one needs the secret itself: a
hash would not do. The secret is therefore stored encrypted (Fernet: AES-CBC + HMAC) under a key
of the service's settings, and shown to the client only in the response that created it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet

#: Bytes of randomness in a new signing secret.
SECRET_BYTES = 32


class SecretBox:
    """Creates, encrypts and decrypts webhook signing secrets."""

    def __init__(self, key_material: str) -> None:
        # Any string becomes a valid Fernet key; the settings hold a long random value.
        digest = hashlib.sha256(key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    @staticmethod
    def new_secret() -> str:
        """A fresh signing secret, given once to the policy's owner."""
        return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)

    def seal(self, secret: str) -> str:
        """The ciphertext to store."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, cipher: str) -> str:
        """The secret back (for verifying a signed delivery)."""
        return self._fernet.decrypt(cipher.encode()).decode()
