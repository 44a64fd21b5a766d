"""A run's manifest is signed with the operator's key: it verifies offline, and any change to
its content, or a signature by another key, fails the check."""

from __future__ import annotations

import copy
from pathlib import Path

from corral.evals.manifest import SigningKey, verify


def test_a_signed_manifest_verifies_and_a_tampered_one_does_not(tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path)
    signed = key.sign({"scores": {"exact": {"pass_rate": 0.6}}, "seed": 0})
    assert verify(signed) is None
    assert verify(signed, trusted_public_key=key.public_json()["public_key"]) is None

    tampered = copy.deepcopy(signed)
    tampered["manifest"]["scores"]["exact"]["pass_rate"] = 0.9
    assert verify(tampered) == "the signature does not match the manifest's content"


def test_the_key_is_made_once_readable_by_the_operator_only(tmp_path: Path) -> None:
    first = SigningKey.load_or_create(tmp_path)
    again = SigningKey.load_or_create(tmp_path)
    assert first.public_json() == again.public_json()
    assert (tmp_path / "evals" / "signing_key.pem").stat().st_mode & 0o777 == 0o600


def test_a_manifest_signed_by_another_key_is_not_trusted(tmp_path: Path) -> None:
    ours = SigningKey.load_or_create(tmp_path / "ours")
    theirs = SigningKey.load_or_create(tmp_path / "theirs")
    forged = theirs.sign({"scores": {}})
    assert verify(forged) is None  # intact, but
    assert verify(forged, ours.public_json()["public_key"]) == (
        "signed by another key than the trusted one"
    )
