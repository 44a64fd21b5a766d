"""Signed manifests: what a finished run measured, on what, and how, signed by the operator.

The operator's ed25519 key is made in `CORRAL_HOME/evals/signing_key.pem` on first use; its
public half is served at `GET /v1/evals/signing-key`. A manifest is signed over its canonical
JSON (sorted keys, no spaces, UTF-8), so anyone holding the public key can check it offline:
any changed byte of its content breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# `cryptography` (~10 MB) is imported where a key is used: a server that never signs or
# verifies a manifest never loads it.

FORMAT = "corral.eval-manifest/1"
_KEY_FILE = "signing_key.pem"


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    """SHA-256 of a JSON value (an item's output), as its manifest records it."""
    data = value.encode() if isinstance(value, str) else canonical(value)
    return hashlib.sha256(data).hexdigest()


class SigningKey:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()

    @classmethod
    def load_or_create(cls, home: Path) -> SigningKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = home / "evals" / _KEY_FILE
        if path.is_file():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, Ed25519PrivateKey), f"{path} is not an ed25519 key"
            return cls(loaded)
        path.parent.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Created readable by the operator only; O_EXCL: two processes never both write one.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(home)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return cls(private)

    def public_json(self) -> dict[str, str]:
        return public_key_json(self.public)

    def sign(self, body: dict[str, Any]) -> dict[str, Any]:
        """The manifest: `body` with its signature and the key that made it."""
        value = self._private.sign(canonical(body))
        return {
            "manifest": body,
            "signature": {
                "algorithm": "ed25519",
                "key_id": key_id(self.public),
                "public_key": _raw_b64(self.public),
                "value": base64.b64encode(value).decode(),
            },
        }


def public_key_json(public: Ed25519PublicKey) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "object": "eval.signing_key",
        "algorithm": "ed25519",
        "key_id": key_id(public),
        "public_key": _raw_b64(public),
        "pem": pem.decode(),
    }


def key_id(public: Ed25519PublicKey) -> str:
    return "ed25519:" + hashlib.sha256(_raw(public)).hexdigest()[:16]


def verify(document: dict[str, Any], trusted_public_key: str | None = None) -> str | None:
    """None when the signature holds; else why not. `trusted_public_key` (base64 of the raw
    key, as `/v1/evals/signing-key` serves it) pins the operator: without it the check proves
    only that the manifest is unchanged since the key it names signed it."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        body, signature = document["manifest"], document["signature"]
        named = signature["public_key"]
        value = base64.b64decode(signature["value"], validate=True)
    except (KeyError, TypeError, ValueError):
        return "not a corral eval manifest (manifest, signature.public_key, signature.value)"
    if signature.get("algorithm") != "ed25519":
        return f"unknown signature algorithm {signature.get('algorithm')!r}"
    if trusted_public_key is not None and trusted_public_key != named:
        return "signed by another key than the trusted one"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(named, validate=True))
        public.verify(value, canonical(body))
    except (InvalidSignature, ValueError):
        return "the signature does not match the manifest's content"
    return None


def _raw(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_b64(public: Ed25519PublicKey) -> str:
    return base64.b64encode(_raw(public)).decode()
