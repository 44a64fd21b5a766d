"""Wire schemas of the admin API: request bodies (strict, parsed once) and response objects.

Money travels as decimal strings in currency units ("12.50", at most 6 decimals) and is parsed
here into integer micro-units; a bad amount, date, tier or policy is a 400 naming the field.
The CLI prints these same objects with `--json`, so both speak one shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo

from corral.accounts.admin import UNSET
from corral.accounts.keys import parse_expiry
from corral.accounts.prices import PriceOverride
from corral.accounts.service import Accounts
from corral.accounts.views import KeyView, TenantView
from corral.api.common import WireModel
from corral.errors import InvalidRequest
from corral.money import format_micros, parse_amount
from corral.settings import TENANT_NAME_PATTERN, Policy, Tier

REQUEST_STATUSES = ("pending", "approved", "denied")


# -- parsing ---------------------------------------------------------------------------------


def _micros(value: object, info: ValidationInfo) -> int | None:
    """A decimal string in currency units → micro-units (None stays None)."""
    if value is None:
        return None
    param = info.field_name
    if not isinstance(value, str):
        raise InvalidRequest(
            f"Invalid value for '{param}': write the amount as a decimal string, like \"12.50\".",
            param=param,
            code="invalid_value",
        )
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid value for '{param}': {exc}.", param=param, code="invalid_value"
        ) from None


def _expiry(value: object, info: ValidationInfo) -> dt.datetime | None:
    if value is None:
        return None
    param = info.field_name
    try:
        if not isinstance(value, str):
            raise ValueError("write it as an ISO 8601 string")
        return parse_expiry(value)
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid value for '{param}': {exc}.", param=param, code="invalid_value"
        ) from None


Micros = Annotated[int, BeforeValidator(_micros)]
"""On the wire a decimal string in currency units; once parsed, integer micro-units."""
Expiry = Annotated[dt.datetime, BeforeValidator(_expiry)]


# -- requests --------------------------------------------------------------------------------


class TenantCreate(WireModel):
    name: str = Field(pattern=TENANT_NAME_PATTERN)
    budget: Micros | None = None
    """Monthly budget; None is unlimited."""
    mau: int | None = Field(default=None, ge=0)
    policy: Policy | None = None
    """None: the operator's default (`[privacy] default_policy`)."""
    retention_hours: int | None = Field(default=None, ge=1, le=24 * 365)


class TenantUpdate(WireModel):
    """Fields left out stay as they are; an explicit null clears a budget or an MAU figure."""

    budget: Micros | None = None
    mau: int | None = Field(default=None, ge=0)
    policy: Policy | None = None
    """Absent or null leaves the policy as it is (a tenant always has one)."""
    retention_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    """Keep partner calls' bodies this long; an explicit null stops keeping them."""

    async def apply(self, accounts: Accounts, ref: str) -> TenantView:
        """Make the change, passing on only the fields the request named."""
        given = self.model_fields_set
        return await accounts.update_tenant(
            ref,
            budget_micros=self.budget if "budget" in given else UNSET,
            mau=self.mau if "mau" in given else UNSET,
            policy=self.policy if self.policy is not None else UNSET,
            retention_hours=self.retention_hours if "retention_hours" in given else UNSET,
        )


class KeyCreate(WireModel):
    tenant: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=100)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    models: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = None
    """Model id patterns (`*` and `?` match like shell globs); None allows every model."""
    tiers: list[Tier] | None = None
    expires_at: Expiry | None = None


class Decision(WireModel):
    reason: str | None = Field(default=None, max_length=4000)


class GrantCreate(WireModel):
    licence_id: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=4000)


class PriceSet(WireModel):
    input: Micros
    """Per million prompt tokens."""
    output: Micros
    """Per million completion tokens."""


def request_status(status: str | None) -> str | None:
    if status is not None and status not in REQUEST_STATUSES:
        raise InvalidRequest(
            f"Invalid value for 'status': choose one of {', '.join(REQUEST_STATUSES)}.",
            param="status",
            code="invalid_value",
        )
    return status


# -- responses -------------------------------------------------------------------------------


class TenantOut(BaseModel):
    id: str
    object: Literal["tenant"] = "tenant"
    name: str
    budget: str | None
    mau: int | None
    policy: Policy
    retention_hours: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, view: TenantView) -> TenantOut:
        return cls(
            id=view.id,
            name=view.name,
            budget=view.budget,
            mau=view.mau,
            policy=view.policy,
            retention_hours=view.retention_hours,
            created_at=view.created_at,
        )


class TenantList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TenantOut]


class KeyOut(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    tenant: str
    name: str | None
    status: str
    """active | expired | revoked"""
    rpm: int | None
    tpm: int | None
    models: list[str] | None
    tiers: list[str] | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def of(cls, view: KeyView) -> KeyOut:
        return cls(
            id=view.id,
            tenant=view.tenant,
            name=view.name,
            status=view.status,
            rpm=view.rpm,
            tpm=view.tpm,
            models=view.models,
            tiers=view.tiers,
            expires_at=view.expires_at,
            revoked_at=view.revoked_at,
            created_at=view.created_at,
        )


class CreatedKey(KeyOut):
    key: str
    """The key itself: shown in this one response, never stored, never shown again."""

    @classmethod
    def created(cls, view: KeyView, plaintext: str) -> CreatedKey:
        return cls(**KeyOut.of(view).model_dump(exclude={"object"}), key=plaintext)


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyOut]


class GrantOut(BaseModel):
    object: Literal["licence.grant"] = "licence.grant"
    tenant: str
    licence_id: str
    note: str | None


class PriceOut(BaseModel):
    object: Literal["model.price"] = "model.price"
    model: str
    currency: str
    input: str | None
    """Per million prompt tokens; None once the override is cleared."""
    output: str | None
    updated_at: dt.datetime | None = None
    deleted: bool = False

    @classmethod
    def of(cls, price: PriceOverride, currency: str) -> PriceOut:
        return cls(
            model=price.model,
            currency=currency,
            input=format_micros(price.input_micros),
            output=format_micros(price.output_micros),
            updated_at=price.updated_at,
        )

    @classmethod
    def cleared(cls, model: str, currency: str, removed: bool) -> PriceOut:
        return cls(model=model, currency=currency, input=None, output=None, deleted=removed)
