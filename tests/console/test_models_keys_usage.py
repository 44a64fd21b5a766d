"""The models page, the keys form's scopes and limits, and the usage page's months, keys and
earlier invoices, over HTTP: each as the signed-in key and its tenant see it, never more."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import insert

from corral.settings import load_settings
from corral.storage.database import open_database
from corral.storage.tables import UsageDaily
from tests.console.server import ECHO, GATED, LICENCE, Console, csrf_of, running_console, signed_in
from tests.support import ADMIN_KEY, corral_env, pdf_strings


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-models"), embedded=False) as c:
        yield c


def _key(console: Console, tenant: str, **scope: object) -> str:
    with console.admin() as admin:
        made = admin.post("/admin/keys", json={"tenant": tenant, **scope})
        made.raise_for_status()
        return str(made.json()["key"])


def _models_listed(page: str) -> list[str]:
    return re.findall(r'<tr id="model-([^"]+)">', page)


def test_models_page_shows_what_the_key_may_use_and_takes_a_licence(console: Console) -> None:
    narrow = _key(console, "globex", models=[ECHO])
    with console.admin() as admin:
        admin.put(f"/admin/models/{ECHO}/price", json={"input": "1.5", "output": "3"})
    with signed_in(console, console.tenants["acme"].key) as client:
        before = client.get("/console/models").text
        accepted = client.post(
            f"/console/licences/{LICENCE['id']}/accept",
            data={"csrf": csrf_of(before), "back": "models"},
        )
        after = client.get("/console/models").text
    with signed_in(console, narrow) as client:
        globex = client.get("/console/models").text
    with console.admin() as admin:
        admin.delete(f"/admin/models/{ECHO}/price")
    with signed_in(console, ADMIN_KEY) as operator:
        refused = operator.get("/console/models")

    assert {ECHO, GATED} <= set(_models_listed(before))
    row = re.search(rf'<tr id="model-{ECHO}">(.*?)</tr>', before, re.S)
    assert row and "100,000 tokens" in row.group(1) and ">open<" in row.group(1)
    assert ">1.500000<" in row.group(1) and ">3.000000<" in row.group(1)  # the operator's price
    assert f"/licences/{LICENCE['id']}/accept" in before and "not accepted" in before
    assert accepted.status_code == 303 and accepted.headers["location"] == "/console/models"
    assert f"/licences/{LICENCE['id']}/accept" not in after and "not accepted" not in after
    # Another tenant's key: only its own scope, and acme's acceptance is not globex's.
    assert _models_listed(globex) == [ECHO]
    assert refused.status_code == 403  # a tenant's page: the operator has no key scope here


def _create(client: httpx.Client, **fields: str) -> httpx.Response:
    csrf = csrf_of(client.get("/console/keys").text)
    return client.post("/console/keys", data={"csrf": csrf, **fields})


def test_a_key_made_with_scopes_and_limits_is_held_to_them(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        made = _create(client, name="ci", models=ECHO, rpm="10", tpm="5000", expires="2099-01-31")
        listing = client.get("/console/keys").text
    new_key = re.search(r'id="new-key" class="mono" readonly value="([^"]+)"', made.text)
    assert made.status_code == 201 and new_key
    row = re.search(
        r"<tr>\s*<td class=\"mono\">key_\w+</td>\s*<td>ci</td>(.*?)</tr>", listing, re.S
    )
    assert row, listing
    assert ECHO in row.group(1) and "10 rpm, 5000 tpm" in row.group(1)
    assert "2099-01-31 00:00 UTC" in row.group(1)
    served = httpx.get(
        console.base_url + "/v1/models", headers={"Authorization": f"Bearer {new_key.group(1)}"}
    )
    assert [m["id"] for m in served.json()["data"]] == [ECHO]
    with signed_in(console, console.tenants["globex"].key) as other:
        assert "<td>ci</td>" not in other.get("/console/keys").text


def test_a_narrow_key_cannot_make_a_wider_one(console: Console) -> None:
    narrow = _key(console, "acme", models=["echo*"], rpm=10, expires_at="2098-01-01T00:00:00Z")
    with signed_in(console, narrow) as client:
        faster = _create(client, rpm="20")
        wider = _create(client, models="*")
        later = _create(client, expires="2099-01-01")
        bad = _create(client, tpm="lots")
        inside = _create(client, name="inside", models=ECHO)
        listing = client.get("/console/keys").text

    assert faster.status_code == 400 and "at most 10" in faster.text
    assert wider.status_code == 400 and "wider than the key you signed in with" in wider.text
    assert later.status_code == 400 and "no later than 2098-01-01" in later.text
    assert bad.status_code == 400 and "whole number" in bad.text
    assert inside.status_code == 201
    row = re.search(r"<td>inside</td>(.*?)</tr>", listing, re.S)
    assert row and f'<td class="mono">{ECHO}</td>' in row.group(1) and "10 rpm" in row.group(1)
    assert "2098-01-01 00:00 UTC" in row.group(1)  # what was left empty came from the key


def _earlier_month() -> tuple[str, dt.date]:
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    day = (first - dt.timedelta(days=1)).replace(day=3)
    return day.strftime("%Y-%m"), day


def _spend(
    console: Console, tenant_id: str, day: dt.date, rows: list[tuple[str, str, int]]
) -> None:
    """Usage of an earlier month, as the meter's daily roll-up keeps it."""
    db = open_database(load_settings(home=console.home))
    try:
        with db.write() as session:
            session.execute(
                insert(UsageDaily),
                [
                    dict(
                        tenant_id=tenant_id,
                        day=day + dt.timedelta(days=i),
                        model=model,
                        tier="open",
                        key_id=key_id,
                        input_price_micros=2_000_000,
                        output_price_micros=4_000_000,
                        requests=1,
                        prompt_tokens=tokens,
                        completion_tokens=tokens,
                        cost_micros=tokens * 6,
                    )
                    for i, (model, key_id, tokens) in enumerate(rows)
                ],
            )
    finally:
        db.close()


def test_an_earlier_month_by_key_and_its_invoice(console: Console) -> None:
    month, day = _earlier_month()
    acme = console.tenants["acme"]
    _spend(
        console, acme.id, day, [(ECHO, "key_a", 1000), (GATED, "key_b", 500), (ECHO, "key_b", 10)]
    )
    with signed_in(console, acme.key) as client:
        whole = client.get(f"/console/usage?month={month}").text
        one_key = client.get(f"/console/usage?month={month}&key=key_a").text
        download = client.get(f"/console/usage/invoice.csv?month={month}")
        too_old = client.get("/console/usage?month=1999-01")
    with signed_in(console, console.tenants["globex"].key) as other:
        theirs = other.get(f"/console/usage?month={month}&key=key_a").text
        their_invoice = other.get(f"/console/usage/invoice.csv?month={month}").text
    cli = subprocess.run(
        [sys.executable, "-m", "corral", "invoice", "--tenant", "acme", "--month", month,
         "--format", "csv"],
        env=corral_env(console.home), capture_output=True, text=True, check=True,
    )  # fmt: skip

    per_key = re.search(r'<table id="per-key">(.*?)</table>', whole, re.S)
    assert per_key and "key_a" in per_key.group(1) and "key_b" in per_key.group(1)
    assert re.search(r">key_a</a></td><td class=\"num\">1</td><td class=\"num\">2000</td>", whole)
    assert f"Spent in {month}" in whole
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" class="bar"', whole)]
    key_heights = [float(h) for h in re.findall(r'height="([\d.]+)" class="bar"', one_key)]
    assert sum(1 for h in heights if h > 0) == 3 and sum(1 for h in key_heights if h > 0) == 1
    assert 'key <span class="mono">key_a</span>' in one_key
    assert download.status_code == 200 and download.text == cli.stdout
    assert download.text.count("\n") >= 3  # header, two models, total
    assert too_old.status_code == 400 and "last 12 months" in too_old.text
    their_keys = re.search(r'<table id="per-key">(.*?)</table>', theirs, re.S)
    assert their_keys and "key_a" not in their_keys.group(1) and "No requests in" in theirs
    assert all(float(h) == 0 for h in re.findall(r'height="([\d.]+)" class="bar"', theirs))
    assert "echo" not in their_invoice.split("\n", 1)[1]


def test_a_tenant_downloads_its_months_invoice_as_pdf(console: Console) -> None:
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    two_ago = (first - dt.timedelta(days=40)).replace(day=5)
    month, empty = two_ago.strftime("%Y-%m"), (two_ago - dt.timedelta(days=31)).strftime("%Y-%m")
    _spend(
        console, console.tenants["acme"].id, two_ago, [(ECHO, "key_a", 1000), (GATED, "key_b", 500)]
    )
    with signed_in(console, console.tenants["acme"].key) as client:
        page = client.get(f"/console/usage?month={month}").text
        pdf = client.get(f"/console/usage/invoice.pdf?month={month}")
        csv_text = client.get(f"/console/usage/invoice.csv?month={month}").text
        nothing = client.get(f"/console/usage/invoice.pdf?month={empty}")
        bad = client.get("/console/usage/invoice.pdf?month=last-year")
    with signed_in(console, console.tenants["globex"].key) as other:
        theirs = other.get(f"/console/usage/invoice.pdf?month={month}")
    with httpx.Client(base_url=console.base_url) as stranger:
        anonymous = stranger.get(f"/console/usage/invoice.pdf?month={month}")

    assert f'href="/console/usage/invoice.pdf?month={month}"' in page
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="invoice-acme-{month}.pdf"' in pdf.headers["content-disposition"]
    shown = pdf_strings(pdf.content)
    assert shown[0] == f"Invoice: acme, {month}"
    csv_lines = [line.split(",") for line in csv_text.splitlines()[1:]]
    for line in csv_lines:  # every CSV line, the total last, is in the PDF cell for cell
        cells = [cell for cell in line if cell]
        assert cells in [shown[i : i + len(cells)] for i in range(len(shown))], cells
    assert csv_lines[-1][-1] == "0.009000" and shown[-1] == "0.009000"
    assert nothing.status_code == 200 and pdf_strings(nothing.content)[-5:] == [
        "total", "0", "0", "0", "0.000000"
    ]  # fmt: skip
    assert bad.status_code == 400 and "YYYY-MM" in bad.text
    their = pdf_strings(theirs.content)
    assert their[0] == f"Invoice: globex, {month}" and their[-1] == "0.000000"
    assert not {ECHO, GATED, "0.006000", "0.003000"} & set(their)
    assert anonymous.status_code in (303, 401) and not anonymous.content.startswith(b"%PDF")
