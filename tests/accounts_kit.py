"""Tenants, keys, config snippets and ledger reads for end-to-end tests of accounts and billing.

Tests create tenants and keys exactly as `corral tenants ...` / `corral keys ...` do: with
`AccountsAdmin` on the same database the server uses, from this (another) process. Servers learn
about each change through the accounts revision they poll.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from corral.accounts.access import AccessService
from corral.accounts.admin import AccountsAdmin, KeySpec
from corral.accounts.keys import key_hasher
from corral.accounts.views import TenantView
from corral.metering.ledger import month_of
from corral.settings import load_settings
from corral.storage import Database, open_database
from corral.storage.tables import BudgetMonth, UsageRecord
from tests.support import MODEL, RunningServer, start_server

KEY_SECRET = "key-secret-shared-by-every-replica-in-these-tests"
"""`CORRAL_KEY_SECRET` for servers sharing one database: a key made once works on all."""

Outcome = tuple[int, str | None]
"""An HTTP status and the error's `code` (None for a success)."""
OK: Outcome = (200, None)


def sqlite_url(home: Path) -> str:
    """The database `corral serve` uses in `home` when no database URL is configured."""
    return f"sqlite:///{home / 'corral.db'}"


@dataclass(frozen=True, slots=True)
class TenantKey:
    tenant: TenantView
    key_id: str
    secret: str


@dataclass
class Accounts:
    """The operator's tools on a server's database, as the CLI holds them."""

    admin: AccountsAdmin
    access: AccessService
    db: Database
    issued: list[str] = field(default_factory=list)
    """Every key secret handed out, to check that none reaches a log."""

    def tenant(
        self, name: str, *, budget_micros: int | None = None, mau: int | None = None
    ) -> TenantView:
        return self.admin.create_tenant(name, budget_micros=budget_micros, mau=mau)

    def key(self, tenant: TenantView, spec: KeySpec | None = None) -> TenantKey:
        view, secret = self.admin.create_key(tenant.id, spec or KeySpec())
        self.issued.append(secret)
        return TenantKey(tenant, view.id, secret)

    def tenant_with_key(self, name: str, spec: KeySpec | None = None, **tenant: Any) -> TenantKey:
        return self.key(self.tenant(name, **tenant), spec)


@contextmanager
def accounts(home: Path, database_url: str, key_secret: str | None = None) -> Iterator[Accounts]:
    """`AccountsAdmin` and `AccessService` on `database_url`, keyed like a server in `home`."""
    settings = load_settings(home=home, database_url=database_url, embedded_model=False)
    db = open_database(settings)
    hasher = key_hasher(home, SecretStr(key_secret) if key_secret else None)
    try:
        yield Accounts(AccountsAdmin(db, hasher), AccessService(db), db)
    finally:
        db.close()


def usage_records(database_url: str, tenant_id: str | None = None) -> list[UsageRecord]:
    """The ledger's rows (one tenant's, or all), read straight from the database."""
    engine = create_engine(database_url)
    query = select(UsageRecord).order_by(UsageRecord.id)
    if tenant_id is not None:
        query = query.where(UsageRecord.tenant_id == tenant_id)
    try:
        with Session(engine) as session:
            return list(session.scalars(query))
    finally:
        engine.dispose()


def budget_month(database_url: str, tenant_id: str) -> BudgetMonth | None:
    """The tenant's spending and open reservations this month, as the database holds them."""
    engine = create_engine(database_url)
    month = month_of(dt.datetime.now(dt.UTC))
    try:
        with Session(engine) as session:
            return session.get(BudgetMonth, (tenant_id, month))
    finally:
        engine.dispose()


def budget_month_once_idle(
    database_url: str, tenant_id: str, timeout_s: float = 10.0
) -> BudgetMonth | None:
    """The tenant's month once the servers have given back their idle budget reservations,
    which they do a few seconds after their last request (see `metering.reservations`)."""
    deadline = time.monotonic() + timeout_s
    month = budget_month(database_url, tenant_id)
    while month is not None and month.reserved_micros and time.monotonic() < deadline:
        time.sleep(0.1)
        month = budget_month(database_url, tenant_id)
    return month


# -- the server's config -------------------------------------------------------------------------


def toml_table(header: str, **values: object) -> str:
    """One `[[header]]` entry of a TOML config (strings, numbers, booleans, paths)."""
    lines = [f"[[{header}]]"]
    for name, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = str(value)
        else:
            text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{name} = {text}")
    return "\n".join(lines) + "\n"


def model_table(name: str, path: Path, **values: object) -> str:
    """A `[[models]]` entry serving the GGUF at `path` (one instance, no embedder)."""
    return toml_table("models", name=name, path=path, embeddings=False, **values)


# -- calling the server --------------------------------------------------------------------------


def start_servers(
    homes: list[Path], config_toml: str | None = None, env: dict[str, str] | None = None
) -> list[RunningServer]:
    """Several gateway processes started side by side (all ready, or none left running)."""
    with ThreadPoolExecutor(len(homes)) as pool:
        starts = [pool.submit(start_server, home, config_toml, env) for home in homes]
        wait(starts)
    servers = [start.result() for start in starts if start.exception() is None]
    if len(servers) < len(homes):
        for server in servers:
            server.stop()
        failed = next(start for start in starts if start.exception() is not None)
        failed.result()
    return servers


def sdk(server: RunningServer, key: str) -> openai.OpenAI:
    """The official client for one key; close it (use it in a `with` block)."""
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


def outcome(server: RunningServer, key: str, model: str = MODEL) -> Outcome:
    """What a one-token chat request with `key` gets: (200, None) or (status, error code)."""
    with sdk(server, key) as client:
        try:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=1
            )
        except openai.APIStatusError as exc:
            return exc.status_code, exc.code
    return OK


def tenant_api(server: RunningServer, key: str) -> httpx.Client:
    """A raw client for corral's tenant endpoints (licences, access requests, usage)."""
    return httpx.Client(
        base_url=f"{server.base_url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def outcome_within(
    server: RunningServer, key: str, until: Outcome, model: str = MODEL, within_s: float = 1.5
) -> Outcome:
    """Ask again until the answer is `until` or `within_s` has passed; the last answer."""
    deadline = time.monotonic() + within_s
    seen = outcome(server, key, model)
    while seen != until and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = outcome(server, key, model)
    return seen
