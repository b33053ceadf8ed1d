"""Signed webhook deliveries: signature, replay window and delivery identity.

A sender signs ``"<timestamp>." + raw body`` with HMAC-SHA256 keyed by the policy's signing
secret and sends::

    X-CoAgent-Timestamp: <unix seconds>
    X-CoAgent-Signature: sha256=<hex digest>
    X-CoAgent-Delivery: <unique id of this delivery>

Signing the timestamp with the body means a captured request cannot be replayed outside the
window with a fresh timestamp; inside the window, the delivery id deduplicates it. The delivery
id becomes the firing's source, so a repeated delivery maps to the same firing key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from coagent_kit.errors import BadRequest, ServiceError, Unauthorized

TIMESTAMP_HEADER = "X-CoAgent-Timestamp"
SIGNATURE_HEADER = "X-CoAgent-Signature"
DELIVERY_HEADER = "X-CoAgent-Delivery"
SIGNATURE_PREFIX = "sha256="
#: How far a delivery's timestamp may be from the receiver's clock, either way.
REPLAY_WINDOW = timedelta(minutes=5)
#: Bodies above this are refused before any work (the gateway applies the same cap).
MAX_BODY_BYTES = 256 * 1024
MAX_DELIVERY_ID_CHARS = 128
_DELIVERY_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_DELIVERY_ID_CHARS}}}")


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


class StaleTimestamp(Unauthorized):
    code = "stale_timestamp"


class InvalidDeliveryId(BadRequest):
    code = "invalid_delivery_id"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


@dataclass(frozen=True)
class Delivery:
    """One received webhook call, as the headers and raw body describe it."""

    body: bytes
    timestamp: str | None
    signature: str | None
    delivery_id: str | None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-CoAgent-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(secret: str, delivery: Delivery, now: datetime) -> str:
    """Check signature and timestamp; return the delivery id (raises a 400/401 otherwise).

    The signature is checked before the timestamp's age, so an unsigned caller learns nothing
    about the clock; the comparison is constant-time.
    """
    if not delivery.signature or not delivery.timestamp:
        raise InvalidSignature(f"Missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    expected = sign(secret, delivery.timestamp, delivery.body)
    if not hmac.compare_digest(expected.encode(), delivery.signature.strip().encode()):
        raise InvalidSignature("Signature does not match the body and timestamp")
    sent = _timestamp(delivery.timestamp)
    if abs(now.timestamp() - sent) > REPLAY_WINDOW.total_seconds():
        window = int(REPLAY_WINDOW.total_seconds())
        raise StaleTimestamp(f"Timestamp is more than {window} s away from the server's clock")
    return delivery_id(delivery.delivery_id)


def _timestamp(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} must be a Unix time in seconds")
    return int(value)


def delivery_id(value: str | None) -> str:
    """The delivery id, if present and printable ASCII of at most 128 characters."""
    if value is None or _DELIVERY_ID.fullmatch(value) is None:
        raise InvalidDeliveryId(
            f"{DELIVERY_HEADER} must be 1-{MAX_DELIVERY_ID_CHARS} printable ASCII characters"
        )
    return value


def delivery_source_id(policy_id: str, delivery: str) -> str:
    """The firing's source id: a digest of the delivery id, deterministic and of fixed size
    (any printable id fits the firing log's column)."""
    digest = hashlib.sha256(f"{policy_id}\n{delivery}".encode()).hexdigest()
    return "webhook-" + digest[:40]


def webhook_payload(body: bytes, delivery: str, content_type: str | None) -> dict[str, Any]:
    """What the run receives: the parsed JSON body when it is JSON, else the text."""
    payload: dict[str, Any] = {"type": "webhook", "delivery_id": delivery}
    text = body.decode("utf-8", errors="replace")
    if content_type is None or "json" in content_type.lower():
        try:
            payload["body"] = json.loads(text) if text.strip() else None
            return payload
        except ValueError:
            pass
    payload["body"] = text
    return payload
