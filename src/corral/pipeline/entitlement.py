"""Step 2, entitlement: may this caller use this model at all?

In order: a private model exists only for its owner; the key's tier and model scopes; the
model's licence (accepted? above its MAU threshold without a grant?); gated access granted?
Each refusal is a 403 with its own code and a message saying what to do next.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from corral.accounts.directory import AccountDirectory
from corral.accounts.records import TenantState
from corral.catalog.catalog import ModelEntry, model_not_found
from corral.catalog.licences import Licence, LicenceBook
from corral.errors import AuthenticationFailed, PermissionDenied
from corral.pipeline.auth import Principal


class Entitlement:
    def __init__(self, directory: AccountDirectory, licences: LicenceBook) -> None:
        self._directory = directory
        self.licences = licences

    async def tenant(self, principal: Principal) -> TenantState | None:
        """The caller's tenant (None for the operator)."""
        if principal.tenant_id is None:
            return None
        state = await self._directory.tenant(principal.tenant_id)
        if state is None:  # deleted under a live key: treat the key as gone
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        return state

    def visible(self, principal: Principal, tenant: TenantState | None, model: ModelEntry) -> bool:
        """Whether `GET /v1/models` shows the model to this caller."""
        if principal.is_admin:
            return True
        return _owns(tenant, model) and _scope_refusal(principal, model) is None

    def check(self, principal: Principal, tenant: TenantState | None, model: ModelEntry) -> None:
        if principal.is_admin:
            return
        assert tenant is not None
        if not _owns(tenant, model):
            raise model_not_found(model.id)
        refusal = _scope_refusal(principal, model)
        if refusal is not None:
            raise refusal
        licence = self.licences.find(model.licence)
        if licence is not None:
            _check_licence(tenant, model, licence)


def _owns(tenant: TenantState | None, model: ModelEntry) -> bool:
    return model.tier != "private" or (tenant is not None and tenant.name == model.owner)


def _scope_refusal(principal: Principal, model: ModelEntry) -> PermissionDenied | None:
    key = principal.key
    if key is None:
        return None
    if key.tiers is not None and model.tier not in key.tiers:
        return PermissionDenied(
            f"API key {key.id} may not use {model.tier} models such as '{model.id}'; it is "
            f"limited to: {', '.join(key.tiers) or 'no tiers'}.",
            param="model",
            code="tier_not_allowed",
        )
    if key.models is not None and not any(fnmatchcase(model.id, p) for p in key.models):
        return PermissionDenied(
            f"API key {key.id} may not use model '{model.id}'; it is limited to: "
            f"{', '.join(key.models) or 'no models'}.",
            param="model",
            code="model_not_allowed",
        )
    return None


def _check_licence(tenant: TenantState, model: ModelEntry, licence: Licence) -> None:
    if (
        licence.requires_acceptance
        and (licence.id, licence.version) not in tenant.accepted_licences
    ):
        raise PermissionDenied(
            f"Model '{model.id}' is licensed under the {licence.name} (version "
            f"{licence.version}), which must be accepted before first use. Read it at "
            f"GET /v1/licences/{licence.id} and accept it with "
            f"POST /v1/licences/{licence.id}/accept.",
            param="model",
            code="licence_not_accepted",
        )
    threshold = licence.mau_threshold
    if (
        threshold is not None
        and tenant.mau is not None
        and tenant.mau > threshold
        and licence.id not in tenant.licence_grants
    ):
        raise PermissionDenied(
            f"The {licence.name} covers services with at most {threshold:,} monthly active "
            f"users; your organisation declared {tenant.mau:,}. Using '{model.id}' needs a "
            "separate grant from the licensor; once you hold one, ask the operator to record it.",
            param="model",
            code="licence_threshold_exceeded",
        )
    if licence.gated and model.id not in tenant.approved_models:
        raise PermissionDenied(
            f"Access to '{model.id}' is gated: request it with "
            f"POST /v1/models/{model.id}/access-requests (say why in 'reason'); the operator "
            "approves or denies each request.",
            param="model",
            code="access_not_granted",
        )
