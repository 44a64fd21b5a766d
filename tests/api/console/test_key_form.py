"""The keys form read against the key signed in: what is left empty carries over, what is
asked must stay inside it, and bad input is a clear error."""

from __future__ import annotations

import datetime as dt

import pytest

from corral.accounts.records import KeyRecord
from corral.api.console.key_form import describe, key_spec
from corral.errors import InvalidRequest

LATEST = dt.datetime(2098, 1, 1, tzinfo=dt.UTC)
NARROW = KeyRecord("key_n", "ten_a", "h", 10, 1000, ("llama-*", "echo"), ("open",), LATEST, False)


def test_empty_fields_take_the_signing_keys_limits() -> None:
    spec = key_spec({"name": " ci "}, NARROW)

    assert spec.name == "ci"
    assert (spec.rpm, spec.tpm, spec.models, spec.tiers) == (
        10,
        1000,
        ["llama-*", "echo"],
        ["open"],
    )
    assert spec.expires_at == LATEST


def test_narrower_values_are_kept() -> None:
    form = {"models": "llama-3b, echo", "tiers": "open", "rpm": "5", "expires": "2030-06-01"}

    spec = key_spec(form, NARROW)

    assert spec.models == ["llama-3b", "echo"] and spec.rpm == 5 and spec.tpm == 1000
    assert spec.expires_at == dt.datetime(2030, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"rpm": "11"}, "rpm: at most 10"),
        ({"tpm": "0"}, "tpm: a whole number of at least 1"),
        ({"rpm": "-3"}, "rpm: a whole number of at least 1"),
        ({"models": "*"}, "'*' is wider than the key"),
        ({"models": "llama-3*"}, "'llama-3*' is wider than the key"),  # a pattern, not a name
        ({"models": "gpt-4"}, "'gpt-4' is wider than the key"),
        ({"tiers": "premium"}, "'premium' is not one of the key"),
        ({"tiers": "gold"}, "Unknown tier 'gold'"),
        ({"expires": "2099-01-01"}, "no later than 2098-01-01 00:00 UTC"),
        ({"expires": "next week"}, "expires:"),
        ({"name": "x" * 101}, "at most 100 characters"),
    ],
)
def test_anything_wider_or_malformed_is_refused(form: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message.replace("*", r"\*")):
        key_spec(form, NARROW)


def test_an_unlimited_key_may_set_anything() -> None:
    spec = key_spec({"models": "*", "tiers": "premium", "rpm": "100000"}, None)

    assert (spec.models, spec.tiers, spec.rpm, spec.expires_at) == (
        ["*"],
        ["premium"],
        100000,
        None,
    )
    assert describe(None) == "no limits"
    assert "models llama-*, echo; tiers open; 10 rpm; 1000 tpm; expires 2098-01-01" in describe(
        NARROW
    )
