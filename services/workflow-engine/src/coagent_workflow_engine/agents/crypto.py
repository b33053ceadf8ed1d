"""Encryption at rest of provider keys: Fernet (AES-128-CBC + HMAC-SHA256) under key rotation.

The first configured key encrypts; every configured key decrypts. Rotation is: prepend a new key,
restart, run ``KeyService.rotate`` (re-encrypts every stored secret with the first key), then
drop the old key. Decryption never falls back to "treat it as plaintext" (the reference did):
a ciphertext no configured key opens is an error, not a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from coagent_kit.errors import ServiceError
from coagent_kit.settings import ConfigurationError
from coagent_workflow_engine.settings import WorkflowEngineSettings

#: Domain separation: the same internal secret must not give the same bytes to another use.
_DERIVATION_LABEL = b"coagent-workflow-engine/provider-keys/v1"


class UndecryptableSecret(ServiceError):
    """A stored secret no configured key opens (a key was dropped before rotation finished)."""

    status, code = 500, "secret_undecryptable"


def derive_key(secret: str) -> str:
    """A Fernet key derived from another secret (dev/test: no extra configuration needed)."""
    digest = hmac.new(secret.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


class KeyCipher:
    """Encrypts with the first key, decrypts with any (``MultiFernet``)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("at least one encryption key is needed")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "WORKFLOW_ENGINE_ENCRYPTION_KEYS: each key must be a Fernet key "
                "(32 url-safe base64-encoded bytes, e.g. from Fernet.generate_key())"
            ) from exc
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, plain: str) -> str:
        """The ciphertext of ``plain`` under the current key."""
        return self._all.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext; raises :class:`UndecryptableSecret` if no configured key opens it."""
        try:
            return self._all.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecret("A stored secret cannot be decrypted") from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is already encrypted with the current key."""
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the current key (same plaintext)."""
        try:
            return self._all.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecret("A stored secret cannot be decrypted") from exc


def cipher_from_settings(settings: WorkflowEngineSettings) -> KeyCipher:
    """The configured keys, or (dev/test only: settings refuse it elsewhere) a derived one."""
    keys = [key.get_secret_value() for key in settings.encryption_keys]
    if not keys:
        keys = [derive_key(settings.internal_token_secret.get_secret_value())]
    return KeyCipher(keys)
