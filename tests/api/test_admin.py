"""The operator's admin API, driven in-process the way an HTTP client drives it.

The app runs on the real services (SQLite in a temporary home) over two echo models: `echo`
(open) and `echo-pro` (premium), so keys made here can be used on `/v1` at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.api.app import create_app
from corral.metering.ledger import UsageEntry
from corral.services import Services
from tests.support import ADMIN_KEY, echo_entry, in_process_services

ONE_TWO_THREE = {"messages": [{"role": "user", "content": "one two three"}]}


@dataclass
class Api:
    client: httpx.AsyncClient
    services: Services

    async def call(
        self, method: str, path: str, body: Any = None, *, key: str = ADMIN_KEY, **params: str
    ) -> httpx.Response:
        return await self.client.request(
            method,
            path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {key}"},
        )

    async def ok(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        response = await self.call(method, path, body, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def tenant_key(self, tenant: str, **spec: Any) -> str:
        await self.ok("POST", "/admin/tenants", {"name": tenant})
        created = await self.ok("POST", "/admin/keys", {"tenant": tenant, **spec})
        key: str = created["key"]
        return key


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    services = in_process_services(tmp_path, echo_entry(), echo_entry("echo-pro", tier="premium"))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://corral") as client:
        yield Api(client, services)
    await services.ledger.aclose()
    services.db.close()


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- tenants ---------------------------------------------------------------------------------


async def test_operator_creates_lists_and_updates_tenants(api: Api) -> None:
    acme = await api.ok(
        "POST",
        "/admin/tenants",
        {"name": "acme", "budget": "12.50", "mau": 1000, "policy": "pseudonymize"},
    )
    await api.ok("POST", "/admin/tenants", {"name": "globex"})

    listed = await api.ok("GET", "/admin/tenants")
    updated = await api.ok("PATCH", "/admin/tenants/acme", {"budget": None, "policy": "allow"})
    by_id = await api.ok("GET", f"/admin/tenants/{acme['id']}")

    assert acme["object"] == "tenant" and acme["id"].startswith("ten_")
    assert acme["budget"] == "12.500000"
    assert listed["object"] == "list"
    assert [t["name"] for t in listed["data"]] == ["acme", "globex"]
    assert [t["budget"] for t in listed["data"]] == ["12.500000", None]
    assert (updated["budget"], updated["mau"], updated["policy"]) == (None, 1000, "allow")
    assert by_id == updated


async def test_taken_name_is_409_and_unknown_tenant_404(api: Api) -> None:
    await api.ok("POST", "/admin/tenants", {"name": "acme"})

    again = await api.call("POST", "/admin/tenants", {"name": "acme"})
    missing = await api.call("GET", "/admin/tenants/nobody")

    assert again.status_code == 409 and error(again)["param"] == "name"
    assert missing.status_code == 404 and error(missing)["code"] == "tenant_not_found"


async def test_a_name_like_another_tenants_id_cannot_shadow_it(api: Api) -> None:
    acme = await api.ok("POST", "/admin/tenants", {"name": "acme"})

    impostor = await api.call("POST", "/admin/tenants", {"name": acme["id"]})
    shouting = await api.call("POST", "/admin/tenants", {"name": "TEN_0123456789abcdef"})
    by_id = await api.ok("GET", f"/admin/tenants/{acme['id']}")

    assert impostor.status_code == 400 and error(impostor)["param"] == "name"
    assert shouting.status_code == 400 and error(shouting)["param"] == "name"
    assert by_id["name"] == "acme"


async def test_a_tenant_id_wins_over_a_name_made_before_names_were_checked(api: Api) -> None:
    acme = await api.ok("POST", "/admin/tenants", {"name": "acme"})
    from corral.storage.tables import Tenant  # a row as an older corral could have written it

    with api.services.db.write() as session:
        row = session.get(Tenant, acme["id"])
        assert row is not None
        session.add(
            Tenant(
                id="ten_ffffffffffffffff",
                name=acme["id"],
                policy="allow",
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )

    by_id = await api.ok("GET", f"/admin/tenants/{acme['id']}")
    updated = await api.ok("PATCH", f"/admin/tenants/{acme['id']}", {"mau": 5})

    assert (by_id["name"], updated["name"], updated["mau"]) == ("acme", "acme", 5)


async def test_numbers_storage_cannot_hold_are_a_400_naming_the_field(api: Api) -> None:
    await api.ok("POST", "/admin/tenants", {"name": "acme"})
    cases = [
        ("POST", "/admin/tenants", {"name": "b", "budget": "1e30"}, "budget"),
        ("POST", "/admin/tenants", {"name": "b", "budget": "10000000000000"}, "budget"),
        ("POST", "/admin/tenants", {"name": "b", "budget": "1000000000.000001"}, "budget"),
        ("POST", "/admin/tenants", {"name": "b", "mau": 10**20}, "mau"),
        ("PATCH", "/admin/tenants/acme", {"budget": "1e999999999"}, "budget"),
        ("PATCH", "/admin/tenants/acme", {"mau": 2**63}, "mau"),
        ("POST", "/admin/keys", {"tenant": "acme", "rpm": 10**20}, "rpm"),
        ("POST", "/admin/keys", {"tenant": "acme", "tpm": 2**63}, "tpm"),
        ("PUT", "/admin/models/echo/price", {"input": "1e30", "output": "1"}, "input"),
        ("PUT", "/admin/models/echo/price", {"input": "1", "output": "99999999999999"}, "output"),
        ("PUT", "/admin/models/echo/price", {"input": "1", "output": "1000000.5"}, "output"),
    ]

    for method, path, body, param in cases:
        response = await api.call(method, path, body)
        assert response.status_code == 400, (body, response.text)
        assert error(response)["param"] == param, (body, response.text)
    at_the_limit = await api.ok("POST", "/admin/tenants", {"name": "c", "budget": "1000000000"})
    assert at_the_limit["budget"] == "1000000000.000000"
    assert (await api.ok("GET", "/admin/tenants/acme"))["mau"] is None
    assert (await api.ok("GET", "/admin/keys"))["data"] == []


# -- keys ------------------------------------------------------------------------------------


async def test_new_key_works_at_once_and_stops_when_revoked(api: Api) -> None:
    await api.ok("POST", "/admin/tenants", {"name": "acme"})
    created = await api.ok(
        "POST",
        "/admin/keys",
        {"tenant": "acme", "name": "ci", "tiers": ["open"], "expires_at": "2099-01-31"},
    )
    key = created["key"]

    before = await api.call("GET", "/v1/models", key=key)
    revoked = await api.ok("POST", f"/admin/keys/{created['id']}/revoke")
    after = await api.call("GET", "/v1/models", key=key)
    listed = await api.ok("GET", "/admin/keys", tenant="acme")

    assert created["object"] == "api_key" and key.startswith("crl_")
    assert created["expires_at"] == "2099-01-31T00:00:00Z"
    assert before.status_code == 200
    assert [m["id"] for m in before.json()["data"]] == ["echo"]  # the key's tiers: open only
    assert revoked["status"] == "revoked"
    assert after.status_code == 401 and error(after)["code"] == "api_key_revoked"
    assert [(k["id"], k["status"]) for k in listed["data"]] == [(created["id"], "revoked")]
    assert "key" not in listed["data"][0]  # the plaintext is shown once, at creation


async def test_tenant_key_cannot_use_the_admin_api(api: Api) -> None:
    key = await api.tenant_key("acme")

    response = await api.call("GET", "/admin/tenants", key=key)

    assert response.status_code == 403
    assert error(response)["code"] == "admin_key_required"


async def test_bad_input_is_a_400_naming_the_parameter(api: Api) -> None:
    await api.ok("POST", "/admin/tenants", {"name": "acme"})
    cases = [
        ("/admin/tenants", {"name": "b", "budget": "1.2345678"}, "budget"),
        ("/admin/tenants", {"name": "b", "budget": "-5"}, "budget"),
        ("/admin/tenants", {"name": "b", "budget": "lots"}, "budget"),
        ("/admin/tenants", {"name": "b", "budget": 12.5}, "budget"),
        ("/admin/tenants", {"name": "b", "policy": "share-everything"}, "policy"),
        ("/admin/tenants", {"name": "no spaces"}, "name"),
        ("/admin/keys", {"tenant": "acme", "tiers": ["gold"]}, "tiers[0]"),
        ("/admin/keys", {"tenant": "acme", "expires_at": "next week"}, "expires_at"),
        ("/admin/keys", {"tenant": "acme", "expires_at": "2001-01-01"}, "expires_at"),
    ]

    for path, body, param in cases:
        response = await api.call("POST", path, body)
        assert response.status_code == 400, (body, response.text)
        assert error(response)["param"] == param, (body, response.text)
    bad_date = await api.call("GET", "/admin/usage", start_date="yesterday")
    bad_status = await api.call("GET", "/admin/access-requests", status="maybe")
    assert error(bad_date)["param"] == "start_date"
    assert error(bad_status)["param"] == "status"
    assert [t["name"] for t in (await api.ok("GET", "/admin/tenants"))["data"]] == ["acme"]


# -- access, grants, prices ------------------------------------------------------------------


async def test_operator_approves_and_denies_access_requests(api: Api) -> None:
    key = await api.tenant_key("acme")
    for model in ("echo", "echo-pro"):
        asked = await api.call(
            "POST", f"/v1/models/{model}/access-requests", {"reason": "evals"}, key=key
        )
        assert asked.status_code == 200, asked.text

    pending = await api.ok("GET", "/admin/access-requests", status="pending", tenant="acme")
    first, second = (r["id"] for r in pending["data"])
    approved = await api.ok("POST", f"/admin/access-requests/{first}/approve")
    denied = await api.ok(
        "POST", f"/admin/access-requests/{second}/deny", {"reason": "not for evals"}
    )
    overruled = await api.call("POST", f"/admin/access-requests/{first}/deny")

    assert [r["model"] for r in pending["data"]] == ["echo", "echo-pro"]
    assert approved["status"] == "approved"
    assert (denied["status"], denied["decision_reason"]) == ("denied", "not for evals")
    assert overruled.status_code == 409


async def test_licence_grant_is_recorded_for_a_known_licence_only(api: Api) -> None:
    await api.ok("POST", "/admin/tenants", {"name": "acme", "mau": 900_000_000})

    granted = await api.ok(
        "POST", "/admin/tenants/acme/licence-grants", {"licence_id": "apache-2.0", "note": "x"}
    )
    unknown = await api.call(
        "POST", "/admin/tenants/acme/licence-grants", {"licence_id": "no-such-licence"}
    )

    assert granted == {
        "object": "licence.grant",
        "tenant": "acme",
        "licence_id": "apache-2.0",
        "note": "x",
    }
    assert unknown.status_code == 404 and error(unknown)["code"] == "licence_not_found"


async def test_price_override_bills_the_next_request_until_cleared(api: Api) -> None:
    key = await api.tenant_key("acme")

    price = await api.ok(
        "PUT", "/admin/models/echo-pro/price", {"input": "1000", "output": "2000.5"}
    )
    priced = await api.ok("GET", "/v1/models/echo-pro")
    answer = await api.call(
        "POST", "/v1/chat/completions", {"model": "echo-pro", **ONE_TWO_THREE}, key=key
    )
    usage = await api.ok("GET", "/admin/usage", tenant="acme")
    cleared = await api.ok("DELETE", "/admin/models/echo-pro/price")
    unpriced = await api.ok("GET", "/v1/models/echo-pro")
    unknown = await api.call("PUT", "/admin/models/gpt-9/price", {"input": "1", "output": "1"})

    assert (price["input"], price["output"]) == ("1000.000000", "2000.500000")
    assert priced["pricing"] == {"input": "1000.000000", "output": "2000.500000"}
    assert answer.status_code == 200, answer.text
    [row] = usage["data"][0]["results"]
    assert (row["tenant"], row["model"], row["input_tokens"], row["output_tokens"]) == (
        "acme",
        "echo-pro",
        3,
        3,
    )
    assert row["cost"] == "0.009002"  # (3 x 1000 + 3 x 2000.5) / 1e6 = 0.0090015, half up
    assert usage["total_cost"] == "0.009002"
    assert cleared["deleted"] is True
    assert unpriced["pricing"] == {"input": "0.000000", "output": "0.000000"}
    assert unknown.status_code == 404 and error(unknown)["code"] == "model_not_found"


# -- invoices --------------------------------------------------------------------------------


def usage_entry(tenant_id: str, request_id: str, model: str, tokens: tuple[int, int]) -> UsageEntry:
    started = dt.datetime(2026, 11, 5, 12, tzinfo=dt.UTC)
    prices = (2_000_000, 6_000_000)
    cost = (tokens[0] * prices[0] + tokens[1] * prices[1]) // 1_000_000
    return UsageEntry(
        request_id,
        tenant_id,
        "key_x",
        model,
        "premium",
        *tokens,
        prices,
        cost,
        "completed",
        started,
        started,
    )


async def test_invoice_lists_each_model_and_the_exact_total(api: Api) -> None:
    acme = await api.ok("POST", "/admin/tenants", {"name": "acme"})
    for entry in (
        usage_entry(acme["id"], "r1", "echo-pro", (1000, 500)),
        usage_entry(acme["id"], "r2", "echo-pro", (10, 5)),
        usage_entry(acme["id"], "r3", "other", (1, 1)),
    ):
        await api.services.ledger.settle(entry)

    invoice = await api.ok("GET", "/admin/invoices/acme/2026-11")
    bad_month = await api.call("GET", "/admin/invoices/acme/November")

    assert invoice["object"] == "invoice"
    assert (invoice["tenant"], invoice["month"], invoice["currency"]) == ("acme", "2026-11", "USD")
    assert invoice["lines"][0] == {
        "model": "echo-pro",
        "tier": "premium",
        "requests": 2,
        "input_tokens": 1010,
        "output_tokens": 505,
        "input_price_per_million": "2.000000",
        "output_price_per_million": "6.000000",
        "amount": "0.005050",
    }
    assert [line["model"] for line in invoice["lines"]] == ["echo-pro", "other"]
    assert invoice["total"] == "0.005058"
    assert bad_month.status_code == 400 and error(bad_month)["param"] == "month"
