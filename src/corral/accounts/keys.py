"""API key format, hashing and the server secret the hashes are keyed with.

A key is `crl_<prefix>_<secret>`. The prefix is not secret: it finds the stored row. The row
holds only HMAC-SHA256(server secret, key), so a copy of the database cannot be used to call
the API, and the comparison runs in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from corral.storage.private import private_dir

KEY_PREFIX = "crl_"
KEY_SECRET_FILE = "key-hmac.secret"


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    prefix: str
    secret_hash: str
    plaintext: str


class KeyHasher:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def hash(self, plaintext: str) -> str:
        return hmac.new(self._secret, plaintext.encode(), hashlib.sha256).hexdigest()

    def matches(self, plaintext: str, secret_hash: str) -> bool:
        return hmac.compare_digest(self.hash(plaintext), secret_hash)

    def new_key(self) -> NewKey:
        prefix = secrets.token_hex(6)
        plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_hex(24)}"
        return NewKey(key_id(prefix), prefix, self.hash(plaintext), plaintext)


def key_id(prefix: str) -> str:
    return f"key_{prefix}"


def prefix_of(plaintext: str) -> str | None:
    """The lookup prefix of something shaped like a corral key, else None."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    prefix, sep, rest = plaintext.removeprefix(KEY_PREFIX).partition("_")
    if not sep or len(prefix) != 12 or not rest:
        return None
    return prefix


def load_or_create_secret(path: Path, make: str) -> str:
    """Read a secret kept in a 0600 file, writing `make` there first if the file is new.

    Processes started together (`serve --workers N`) race to make the file: each writes a
    private temporary file and hard-links it into place, so a reader sees no file or a
    complete one, never one created but not yet written, and every process keeps the winner.
    """
    if not path.exists():
        private_dir(path.parent)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(make + "\n")
            os.link(draft, path)
        except FileExistsError:
            pass  # another process published its secret first: use that one
        finally:
            draft.unlink()
    return path.read_text().strip()


def key_hasher(home: Path, configured: SecretStr | None) -> KeyHasher:
    if configured is not None:
        return KeyHasher(configured.get_secret_value().encode())
    secret = load_or_create_secret(home / KEY_SECRET_FILE, secrets.token_hex(32))
    return KeyHasher(secret.encode())


def parse_expiry(text: str) -> dt.datetime:
    """An ISO date or datetime → an aware UTC moment; a date means 00:00 UTC that day.

    A datetime without an offset is taken as UTC. Raises ValueError for anything else, and for
    a moment already past (a key that never works is a mistake, not a choice).
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip())  # a bare date reads as its midnight
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date or time; write it like 2027-01-31 or 2027-01-31T12:00:00Z"
        ) from None
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    if moment <= dt.datetime.now(dt.UTC):
        raise ValueError(f"{moment.isoformat()} is in the past")
    return moment
