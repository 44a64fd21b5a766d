"""Step 1, authenticate: turn an `Authorization: Bearer ...` header into a `Principal`.

Until tenants and API keys exist, the operator's admin key is the one accepted credential.
Keys are compared in constant time and never echoed in errors or logs.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from corral.errors import AuthenticationFailed


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `key_id` is safe to log; the key itself never leaves this module."""

    kind: Literal["admin"]
    key_id: str


class Authenticator:
    def __init__(self, admin_key: SecretStr) -> None:
        self._admin_key = admin_key.get_secret_value().encode()

    def authenticate(self, authorization: str | None) -> Principal:
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
        if not hmac.compare_digest(token.strip().encode(), self._admin_key):
            raise AuthenticationFailed(
                "Incorrect API key provided. Check the key, or ask the operator for a new one.",
                code="invalid_api_key",
            )
        return Principal(kind="admin", key_id="admin")
