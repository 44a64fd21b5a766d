"""Step 1, authenticate: turn an `Authorization: Bearer ...` header into a `Principal`.

Two kinds of callers: the operator (the admin key) and tenants (their API keys, looked up by
prefix in the account directory's cache and checked against the stored HMAC in constant time).
Keys are never echoed in errors or logs; only key ids (`key_...`) are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from corral.accounts.directory import AccountDirectory
from corral.accounts.keys import KeyHasher, prefix_of
from corral.accounts.records import KeyRecord
from corral.errors import AuthenticationFailed


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `key_id` is safe to log; the key itself never leaves this module."""

    kind: Literal["admin", "tenant"]
    key_id: str
    tenant_id: str | None = None
    key: KeyRecord | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"


ADMIN = Principal(kind="admin", key_id="admin")
_INVALID = (
    "Incorrect API key provided. Check the key, or ask the operator for a new one.",
    "invalid_api_key",
)


class Authenticator:
    def __init__(
        self, admin_key: SecretStr, directory: AccountDirectory, hasher: KeyHasher
    ) -> None:
        self._admin_key = admin_key.get_secret_value().encode()
        self._directory = directory
        self._hasher = hasher

    def admin_fingerprint(self) -> str:
        """Names the admin key in force without revealing it: a session signed in with an
        earlier admin key (the operator changed it) no longer matches."""
        return "admin_" + hashlib.sha256(self._admin_key).hexdigest()[:12]

    def is_admin(self, authorization: str | None) -> bool:
        """Whether the header carries the admin key (no error either way: for routes that
        answer everyone, and the operator with more)."""
        try:
            token = _bearer_token(authorization)
        except AuthenticationFailed:
            return False
        return hmac.compare_digest(token.encode(), self._admin_key)

    async def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer_token(authorization)
        if hmac.compare_digest(token.encode(), self._admin_key):
            return ADMIN
        prefix = prefix_of(token)
        record = await self._directory.key(prefix) if prefix else None
        if record is None or not self._hasher.matches(token, record.secret_hash):
            raise AuthenticationFailed(_INVALID[0], code=_INVALID[1])
        return _usable(record)

    async def principal_for_key(self, key_id: str) -> Principal:
        """The tenant behind a key already proven once (the console's session keeps the key's
        id, never the key): the same revocation and expiry checks as `authenticate`, so a key
        revoked anywhere ends its sessions as soon as the directory sees the change."""
        prefix = key_id.removeprefix("key_")
        record = await self._directory.key(prefix) if prefix != key_id else None
        if record is None or record.id != key_id:
            raise AuthenticationFailed(_INVALID[0], code=_INVALID[1])
        return _usable(record)


def _usable(record: KeyRecord) -> Principal:
    if record.revoked:
        raise AuthenticationFailed(
            f"API key {record.id} has been revoked. Ask the operator for a new one.",
            code="api_key_revoked",
        )
    if record.expires_at is not None and record.expires_at <= dt.datetime.now(dt.UTC):
        raise AuthenticationFailed(
            f"API key {record.id} expired at {record.expires_at.isoformat()}. "
            "Ask the operator for a new one.",
            code="api_key_expired",
        )
    return Principal(kind="tenant", key_id=record.id, tenant_id=record.tenant_id, key=record)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it in the Authorization header as "
            "'Authorization: Bearer YOUR_KEY'.",
            code="missing_api_key",
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "The Authorization header must be 'Bearer YOUR_KEY'.", code="invalid_api_key"
        )
    return token.strip()
