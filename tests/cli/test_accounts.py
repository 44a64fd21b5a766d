"""The account commands (tenants, keys, access, usage, invoice, prices), run as a user runs them.

Each test runs `corral`'s real entry point (`corral.cli.main`, which turns errors into one line
on stderr) in click's test runner, against a temporary CORRAL_HOME. What the commands write is
checked the way a server on the same home would see it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from typer.testing import CliRunner

from corral.accounts.access import AccessService
from corral.api.app import create_app
from corral.cli import main
from corral.metering.ledger import Ledger, UsageEntry
from corral.settings import load_settings
from corral.storage import Database, open_database
from tests.support import echo_entry, in_process_services, pdf_strings


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def corral(home: Path, *args: str) -> Run:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CORRAL_")}
    env["CORRAL_HOME"] = str(home)
    with (
        CliRunner().isolation(env=env) as (out, err, _),
        patch.object(sys, "argv", ["corral", *args]),
    ):
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        return Run(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path))
    yield database
    database.close()


async def models_status(home: Path, key: str) -> int:
    """What a server on the same home answers `GET /v1/models` with this key."""
    services = in_process_services(home, echo_entry())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://corral") as client:
        response = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    services.db.close()
    return response.status_code


def assert_one_line_error(run: Run, words: str) -> None:
    assert run.code == 1
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert words in run.stderr


# -- tenants ---------------------------------------------------------------------------------


def test_tenants_create_list_and_update(tmp_path: Path) -> None:
    created = corral(tmp_path, "tenants", "create", "acme", "--budget", "12.50", "--mau", "1000")
    corral(tmp_path, "tenants", "create", "globex", "--policy", "local_only")
    listed = corral(tmp_path, "tenants", "list", "--json").json()
    updated = corral(
        tmp_path, "tenants", "update", "acme", "--budget", "none", "--mau", "5",
        "--retention-hours", "48",
    )  # fmt: skip
    shown = corral(tmp_path, "tenants", "show", "acme", "--json").json()
    table = corral(tmp_path, "tenants", "list")

    assert created.code == 0, created.stderr
    assert "12.500000" in created.stdout
    assert [(t["name"], t["budget"], t["policy"]) for t in listed["data"]] == [
        ("acme", "12.500000", "pseudonymize"),  # the operator's default data policy
        ("globex", None, "local_only"),
    ]
    assert updated.code == 0, updated.stderr
    assert (shown["budget"], shown["mau"], shown["policy"]) == (None, 5, "pseudonymize")
    assert shown["retention_hours"] == 48
    assert "acme" in table.stdout and "globex" in table.stdout


def test_duplicate_tenant_and_bad_budget_are_one_line_errors(tmp_path: Path) -> None:
    corral(tmp_path, "tenants", "create", "acme")

    duplicate = corral(tmp_path, "tenants", "create", "acme")
    too_precise = corral(tmp_path, "tenants", "create", "globex", "--budget", "1.2345678")
    not_money = corral(tmp_path, "tenants", "update", "acme", "--budget", "lots")
    no_tenant = corral(tmp_path, "keys", "create", "--tenant", "nobody")

    assert_one_line_error(duplicate, "already exists")
    assert_one_line_error(too_precise, "--budget")
    assert_one_line_error(not_money, "--budget")
    assert_one_line_error(no_tenant, "nobody")
    assert [t["name"] for t in corral(tmp_path, "tenants", "list", "--json").json()["data"]] == [
        "acme"
    ]


def test_numbers_beyond_what_storage_holds_are_one_line_errors(tmp_path: Path) -> None:
    corral(tmp_path, "tenants", "create", "acme")

    budget = corral(tmp_path, "tenants", "create", "big", "--budget", "10000000000000")
    mau = corral(tmp_path, "tenants", "update", "acme", "--mau", str(10**20))
    rpm = corral(tmp_path, "keys", "create", "--tenant", "acme", "--rpm", str(10**20))
    tpm = corral(tmp_path, "keys", "create", "--tenant", "acme", "--tpm", str(2**63))
    price = corral(tmp_path, "prices", "set", "smollm2-135m-instruct", "--input", "1e30",
                   "--output", "1")  # fmt: skip
    limit = corral(tmp_path, "prices", "set", "smollm2-135m-instruct", "--input", "1",
                   "--output", "99999999999999")  # fmt: skip
    name = corral(tmp_path, "tenants", "create", "ten_0123456789abcdef")

    assert_one_line_error(budget, "--budget")
    assert_one_line_error(mau, "mau")
    assert_one_line_error(rpm, "account_limits.max_rpm")
    assert_one_line_error(tpm, "account_limits.max_tpm")
    assert_one_line_error(price, "--input")
    assert_one_line_error(limit, "--output")
    assert_one_line_error(name, "looks like a tenant id")
    assert [t["name"] for t in corral(tmp_path, "tenants", "list", "--json").json()["data"]] == [
        "acme"
    ]


# -- keys ------------------------------------------------------------------------------------


async def test_keys_create_prints_a_working_key_last_and_revoke_stops_it(tmp_path: Path) -> None:
    corral(tmp_path, "tenants", "create", "acme")

    created = corral(
        tmp_path, "keys", "create", "--tenant", "acme", "--name", "ci", "--tiers", "open,premium"
    )
    key = created.stdout.strip().splitlines()[-1]
    works = await models_status(tmp_path, key)
    as_json = corral(
        tmp_path, "keys", "create", "--tenant", "acme", "--expires", "2099-01-31", "--json"
    ).json()
    key_id = next(k["id"] for k in corral(tmp_path, "keys", "list", "--json").json()["data"])
    revoked = corral(tmp_path, "keys", "revoke", key_id)

    assert created.code == 0, created.stderr
    assert key.startswith("crl_")
    assert works == 200
    assert as_json["key"].startswith("crl_") and as_json["tenant"] == "acme"
    assert as_json["expires_at"] == "2099-01-31T00:00:00Z"
    assert revoked.code == 0 and key_id in revoked.stdout
    assert await models_status(tmp_path, key) == 401
    assert await models_status(tmp_path, as_json["key"]) == 200


# -- access ----------------------------------------------------------------------------------


def test_access_requests_are_approved_and_denied(tmp_path: Path, db: Database) -> None:
    tenant = corral(tmp_path, "tenants", "create", "acme", "--json").json()
    access = AccessService(db)
    first = access.request_access(tenant["id"], "llama-3.1-8b-instruct", "research")
    second = access.request_access(tenant["id"], "avocado", "product")

    pending = corral(tmp_path, "access", "list", "--status", "pending", "--json").json()
    approved = corral(tmp_path, "access", "approve", first.id)
    denied = corral(tmp_path, "access", "deny", second.id, "--reason", "closed beta")
    decided = corral(tmp_path, "access", "list", "--json").json()
    again = corral(tmp_path, "access", "deny", first.id, "--reason", "changed my mind")

    assert [r["id"] for r in pending["data"]] == [first.id, second.id]
    assert approved.code == 0 and denied.code == 0
    assert [(r["status"], r["decision_reason"]) for r in decided["data"]] == [
        ("approved", None),
        ("denied", "closed beta"),
    ]
    assert_one_line_error(again, "already approved")


# -- usage, invoices, prices -----------------------------------------------------------------


def settle(db: Database, tenant_id: str, request_id: str, model: str, tokens: int) -> None:
    started = dt.datetime(2026, 11, 5, 12, tzinfo=dt.UTC)
    prices = (1_500_000, 4_000_000)  # 1.50 and 4.00 per million tokens
    cost = (tokens * prices[0] + tokens * prices[1]) // 1_000_000
    entry = UsageEntry(
        request_id,
        tenant_id,
        "key_abc",
        model,
        "premium",
        tokens,
        tokens,
        prices,
        cost,
        "completed",
        started,
        started,
    )
    asyncio.run(settle_once(db, entry))


async def settle_once(db: Database, entry: UsageEntry) -> None:
    ledger = Ledger(db)
    await ledger.settle(entry)
    await ledger.aclose()


def test_invoice_as_json_and_csv(tmp_path: Path, db: Database) -> None:
    tenant = corral(tmp_path, "tenants", "create", "acme", "--json").json()
    settle(db, tenant["id"], "r1", "avocado", 1000)
    settle(db, tenant["id"], "r2", "avocado", 2000)
    settle(db, tenant["id"], "r3", "gemini", 10)

    as_json = corral(
        tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11", "--format", "json"
    )
    as_csv = corral(
        tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11", "--format", "csv"
    )
    usage = corral(tmp_path, "usage", "--month", "2026-11", "--json").json()
    table = corral(tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11")

    invoice = as_json.json()
    assert invoice["tenant"] == "acme" and invoice["month"] == "2026-11"
    assert [(x["model"], x["requests"], x["amount"]) for x in invoice["lines"]] == [
        ("avocado", 2, "0.016500"),
        ("gemini", 1, "0.000055"),
    ]
    assert invoice["total"] == "0.016555"
    rows = as_csv.stdout.strip().splitlines()
    assert rows[0].startswith("model,tier,requests,input_tokens,output_tokens,")
    assert rows[1] == "avocado,premium,2,3000,3000,1.500000,4.000000,0.016500"
    assert rows[-1] == "total,,3,3010,3010,,,0.016555"
    assert len(rows) == 4
    assert usage["total_cost"] == "0.016555"
    assert "0.016555" in table.stdout


def test_invoice_as_pdf_goes_to_a_file_never_the_terminal(tmp_path: Path, db: Database) -> None:
    tenant = corral(tmp_path, "tenants", "create", "acme", "--json").json()
    settle(db, tenant["id"], "r1", "avocado", 1000)
    settle(db, tenant["id"], "r3", "gemini", 10)
    pdf = tmp_path / "acme.pdf"

    written = corral(tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11",
                     "--format", "pdf", "--output", str(pdf))  # fmt: skip
    to_terminal = corral(
        tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11", "--format", "pdf"
    )
    csv_file = tmp_path / "acme.csv"
    as_csv = corral(tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11",
                    "--format", "csv", "--output", str(csv_file))  # fmt: skip
    nowhere = corral(tmp_path, "invoice", "--tenant", "acme", "--month", "2026-11",
                     "--format", "pdf", "--output", str(tmp_path / "no" / "such.pdf"))  # fmt: skip

    assert written.code == 0 and written.stdout == ""
    shown = pdf_strings(pdf.read_bytes())
    assert shown[0] == "Invoice: acme, 2026-11"
    assert ["avocado", "premium", "1", "1000", "1000", "1.500000", "4.000000", "0.005500"] in [
        shown[i : i + 8] for i in range(len(shown))
    ]
    assert shown[-5:] == ["total", "2", "1010", "1010", "0.005555"]
    assert "gemini" in shown and "0.000055" in shown
    assert to_terminal.code != 0 and to_terminal.stdout == ""
    assert "--format pdf needs --output" in to_terminal.stderr
    assert as_csv.code == 0 and as_csv.stdout == ""
    assert csv_file.read_text().splitlines()[-1] == "total,,2,1010,1010,,,0.005555"
    assert nowhere.code != 0 and "cannot write" in nowhere.stderr


async def test_prices_set_and_clear_reach_the_server(tmp_path: Path) -> None:
    gguf = tmp_path / "echo.gguf"
    gguf.write_bytes(b"GGUF")
    config = tmp_path / "corral.toml"
    config.write_text(f'[[models]]\nname = "echo"\npath = "{gguf}"\n')

    priced = corral(
        tmp_path,
        "prices",
        "set",
        "echo",
        "--input",
        "0.5",
        "--output",
        "1.25",
        "--config",
        str(config),
    )
    seen = await prices_seen(tmp_path)
    cleared = corral(tmp_path, "prices", "clear", "echo")
    unknown = corral(tmp_path, "prices", "set", "gpt-9", "--input", "1", "--output", "1")

    assert priced.code == 0, priced.stderr
    assert seen == (500_000, 1_250_000)
    assert cleared.code == 0
    assert await prices_seen(tmp_path) == (0, 0)
    assert_one_line_error(unknown, "gpt-9")


async def prices_seen(home: Path) -> tuple[int, int]:
    """The prices a server on the same home charges for `echo`."""
    services = in_process_services(home, echo_entry())
    try:
        return await services.gateway.prices(services.gateway.catalog.get("echo"))
    finally:
        services.db.close()
