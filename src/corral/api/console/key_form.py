"""The keys page's create form read into a `KeySpec` no broader than the key signed in:
models, tiers, rate limits and expiry as `corral keys create` takes them, each checked to
stay inside the signing key's own (a narrow key never mints a wider one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fnmatch import fnmatchcase

from corral.accounts.admin import TIERS, KeySpec
from corral.accounts.keys import parse_expiry
from corral.accounts.records import KeyRecord
from corral.errors import InvalidRequest

_WILDCARDS = frozenset("*?[")


def key_spec(form: Mapping[str, str], scope: KeyRecord | None) -> KeySpec:
    """`scope` None: the signing key has no limits of its own (nothing to stay inside)."""
    name = form.get("name", "").strip() or None
    if name is not None and len(name) > 100:
        raise InvalidRequest("A key's name may have at most 100 characters.", param="name")
    return KeySpec(
        name=name,
        rpm=_limit(form, "rpm", scope.rpm if scope else None),
        tpm=_limit(form, "tpm", scope.tpm if scope else None),
        models=_models(form, _listed(scope.models if scope else None)),
        tiers=_tiers(form, _listed(scope.tiers if scope else None)),
        expires_at=_expiry(form, scope.expires_at if scope else None),
    )


def _limit(form: Mapping[str, str], field: str, ceiling: int | None) -> int | None:
    text = form.get(field, "").strip()
    if not text:
        return ceiling
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest(f"{field}: a whole number of at least 1, not '{text}'.", param=field)
    if ceiling is not None and int(text) > ceiling:
        raise InvalidRequest(
            f"{field}: at most {ceiling}, the limit of the key you signed in with.", param=field
        )
    return int(text)


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


def _split(text: str) -> list[str] | None:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return parts or None


def _models(form: Mapping[str, str], allowed: list[str] | None) -> list[str] | None:
    asked = _split(form.get("models", ""))
    if asked is None or allowed is None:
        return asked if asked is not None else allowed
    for pattern in asked:
        # A pattern is only as wide as one of the signing key's own; a name must match one.
        inside = not _WILDCARDS & set(pattern) and any(fnmatchcase(pattern, p) for p in allowed)
        if pattern not in allowed and not inside:
            raise InvalidRequest(
                f"models: '{pattern}' is wider than the key you signed in with "
                f"({', '.join(allowed)}).",
                param="models",
            )
    return asked


def _tiers(form: Mapping[str, str], allowed: list[str] | None) -> list[str] | None:
    asked = _split(form.get("tiers", ""))
    if asked is None:
        return allowed
    for tier in asked:
        if tier not in TIERS:
            raise InvalidRequest(
                f"Unknown tier '{tier}'; tiers are {', '.join(TIERS)}.", param="tiers"
            )
        if allowed is not None and tier not in allowed:
            raise InvalidRequest(
                f"tiers: '{tier}' is not one of the key you signed in with ({', '.join(allowed)}).",
                param="tiers",
            )
    return asked


def _expiry(form: Mapping[str, str], latest: dt.datetime | None) -> dt.datetime | None:
    text = form.get("expires", "").strip()
    if not text:
        return latest
    try:
        moment = parse_expiry(text)
    except ValueError as exc:
        raise InvalidRequest(f"expires: {exc}", param="expires") from None
    if latest is not None and moment > latest:
        raise InvalidRequest(
            f"expires: no later than {latest:%Y-%m-%d %H:%M} UTC, when the key you signed in "
            "with expires.",
            param="expires",
        )
    return moment


def describe(scope: KeyRecord | None) -> str:
    """The signing key's limits in words (what an empty field of the form takes)."""
    if scope is None:
        return "no limits"
    return "; ".join(
        (
            "models " + (", ".join(scope.models) if scope.models is not None else "all"),
            "tiers " + (", ".join(scope.tiers) if scope.tiers is not None else "all"),
            f"{scope.rpm} rpm" if scope.rpm else "no rpm limit",
            f"{scope.tpm} tpm" if scope.tpm else "no tpm limit",
            f"expires {scope.expires_at:%Y-%m-%d %H:%M} UTC" if scope.expires_at else "no expiry",
        )
    )
