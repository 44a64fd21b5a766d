"""Each route's real answer is what the served OpenAPI document says it answers.

A real `corral serve` (the embedded model, also served under a gated licence) is driven through
one operator's and one tenant's day over HTTP; every answer is then checked against the schema
that `/openapi.json` declares for its route and status. Objects in the declared schemas are
closed (`additionalProperties: false` unless they say otherwise), so a field the server sends
but the document leaves out fails too. The three hot inference routes answer below FastAPI and
declare no response model; their answers are held to the protocol's TypedDicts instead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import TypeAdapter
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from corral.api.chat.protocol import ChatCompletionResponse
from corral.api.completions.protocol import CompletionResponse
from corral.api.embeddings.protocol import EmbeddingResponse
from corral.finetune.models import record
from corral.settings import LicenceConfig
from corral.storage.tables import Tenant
from tests.accounts_kit import model_table, sqlite_url, toml_table
from tests.support import ADMIN_KEY, MODEL, RunningServer, start_server

GATED = "gated-smollm2"
LICENCE = LicenceConfig(
    id="community",
    version="1.0",
    name="A community licence",
    requires_acceptance=True,
    gated=True,
)
HOT = {
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
}
FIXTURES = Path(__file__).resolve().parent.parent / "tasks" / "fixtures"

Operation = tuple[str, str]
"""(method, path template as the document writes it)."""


@dataclass
class Answers:
    """The real answers, by operation (several where one route was called several ways)."""

    seen: dict[Operation, list[httpx.Response]] = field(default_factory=dict)

    def call(
        self,
        api: httpx.Client,
        method: str,
        template: str,
        body: Any = None,
        status: str | None = None,
        **path: str,
    ) -> Any:
        """Call `template` with `path`'s names filled in, recording the 200 it must answer."""
        query = {"status": status} if status else None
        response = api.request(method, template.format(**path), json=body, params=query)
        return self.record(method, template, response)

    def upload(self, api: httpx.Client, name: str, content: bytes, purpose: str) -> Any:
        """POST /v1/files, a multipart form as the SDK sends it."""
        files = {"file": (name, content)}
        response = api.post("/v1/files", files=files, data={"purpose": purpose})
        return self.record("POST", "/v1/files", response)

    def record(self, method: str, template: str, response: httpx.Response) -> Any:
        assert response.status_code == 200, f"{method} {template}: {response.text}"
        self.seen.setdefault((method, template), []).append(response)
        return response.json() if "json" in response.headers["content-type"] else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[RunningServer]:
    config = toml_table("licences", **LICENCE.model_dump(exclude_none=True)) + model_table(
        GATED, model_path, licence=LICENCE.id
    )
    running = start_server(tmp_path_factory.mktemp("openapi-home"), config)
    yield running
    running.stop()


def client(server: RunningServer, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=300)


@pytest.fixture(scope="module")
def document(server: RunningServer) -> dict[str, Any]:
    served: dict[str, Any] = httpx.get(f"{server.base_url}/openapi.json").json()
    return served


@pytest.fixture(scope="module")
def answers(server: RunningServer) -> Answers:
    seen = Answers()
    with client(server, None) as anyone, client(server, ADMIN_KEY) as admin:
        seen.call(anyone, "GET", "/healthz")
        seen.call(anyone, "GET", "/readyz")
        seen.call(admin, "GET", "/readyz")
        seen.call(admin, "GET", "/metrics")
        acme_key, globex_key = operator_sets_up(seen, admin)
        with client(server, acme_key) as acme:
            tenant_day(seen, acme)
            fine_tuned_model_deleted(seen, server, acme)
        with client(server, globex_key) as globex:
            wanted = {"reason": "a look"}
            path = "/v1/models/{model_id}/access-requests"
            seen.call(globex, "POST", path, wanted, model_id=GATED)
        operator_decides(seen, admin)
    return seen


def operator_sets_up(seen: Answers, admin: httpx.Client) -> tuple[str, str]:
    """Tenants, keys and a price; the keys acme and globex work with."""
    seen.call(admin, "POST", "/admin/tenants", {"name": "acme", "budget": "10.00", "mau": 10})
    seen.call(admin, "POST", "/admin/tenants", {"name": "globex"})
    seen.call(admin, "GET", "/admin/tenants")
    seen.call(admin, "GET", "/admin/tenants/{ref}", ref="acme")
    seen.call(admin, "PATCH", "/admin/tenants/{ref}", {"mau": None}, ref="acme")
    acme = seen.call(admin, "POST", "/admin/keys", {"tenant": "acme", "name": "work"})
    globex = seen.call(admin, "POST", "/admin/keys", {"tenant": "globex", "rpm": 60})
    expiring = {"tenant": "globex", "expires_at": "2099-01-31"}
    spare = seen.call(admin, "POST", "/admin/keys", expiring)
    seen.call(admin, "GET", "/admin/keys")
    seen.call(admin, "POST", "/admin/keys/{key_id}/revoke", key_id=spare["id"])
    price = {"input": "0.50", "output": "1.25"}
    seen.call(admin, "PUT", "/admin/models/{model_id}/price", price, model_id=MODEL)
    return acme["key"], globex["key"]


def tenant_day(seen: Answers, acme: httpx.Client) -> None:
    """Models, licences, an access request, inference (so usage is not empty), tasks, the log."""
    seen.call(acme, "GET", "/v1/models")
    seen.call(acme, "GET", "/v1/models/{model_id}", model_id=MODEL)
    seen.call(acme, "GET", "/v1/licences")
    seen.call(acme, "GET", "/v1/licences/{licence_id}", licence_id=LICENCE.id)
    seen.call(acme, "POST", "/v1/licences/{licence_id}/accept", licence_id=LICENCE.id)
    wanted = {"reason": "evaluation"}
    seen.call(acme, "POST", "/v1/models/{model_id}/access-requests", wanted, model_id=GATED)
    seen.call(acme, "GET", "/v1/access-requests")
    hello = [{"role": "user", "content": "Hi"}]
    seen.call(
        acme, "POST", "/v1/chat/completions", {"model": MODEL, "messages": hello, "max_tokens": 2}
    )
    seen.call(acme, "POST", "/v1/completions", {"model": MODEL, "prompt": "Hi", "max_tokens": 2})
    seen.call(acme, "POST", "/v1/embeddings", {"model": MODEL, "input": ["Hi", "there"]})
    asked = {"model": MODEL, "input": "Hi", "max_output_tokens": 2, "metadata": {"k": "v"}}
    made = seen.call(acme, "POST", "/v1/responses", asked)
    seen.call(acme, "GET", "/v1/responses/{response_id}", response_id=made["id"])
    seen.call(acme, "GET", "/v1/responses/{response_id}/input_items", response_id=made["id"])
    seen.call(acme, "DELETE", "/v1/responses/{response_id}", response_id=made["id"])
    seen.call(acme, "GET", "/v1/usage")
    seen.call(acme, "GET", "/v1/audit")
    posts = json.loads((FIXTURES / "feed_posts.json").read_text())["posts"][:3]
    seen.call(acme, "POST", "/v1/tasks/summarize", {"model": MODEL, "posts": posts})
    chat = "\n".join((FIXTURES / "whatsapp_android_en.txt").read_text().splitlines()[:8])
    seen.call(acme, "POST", "/v1/tasks/explain-conversation", {"model": MODEL, "chat": chat})
    csv = "\n".join((FIXTURES / "creator_posts.csv").read_text().splitlines()[:6])
    seen.call(acme, "POST", "/v1/tasks/creator-tips", {"model": MODEL, "csv": csv})
    seen.call(acme, "GET", "/v1/tasks/{name}/schema", name="summarize")
    files_day(seen, acme)
    evals_day(seen, acme)


def files_day(seen: Answers, acme: httpx.Client) -> None:
    """A training file (checked, scanned) and a plain one: listed, read back, deleted."""
    example = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]
    }
    training = seen.upload(acme, "train.jsonl", json.dumps(example).encode() + b"\n", "fine-tune")
    seen.upload(acme, "notes.txt", b"plain bytes", "user_data")
    seen.call(acme, "GET", "/v1/files")
    seen.call(acme, "GET", "/v1/files/{file_id}", file_id=training["id"])
    seen.call(acme, "GET", "/v1/files/{file_id}/content", file_id=training["id"])
    fine_tuning_day(seen, acme, training["id"])
    seen.call(acme, "DELETE", "/v1/files/{file_id}", file_id=training["id"])


def evals_day(seen: Answers, acme: httpx.Client) -> None:
    """An eval, a run of it (no worker here: it stays queued) cancelled, its empty items."""
    seen.call(acme, "GET", "/v1/evals/signing-key")
    seen.call(acme, "GET", "/v1/evals/suites")
    check = {"type": "string_check", "name": "same", "operation": "eq"}
    check |= {"input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
    body = {"name": "e", "data_source_config": {"type": "custom"}, "testing_criteria": [check]}
    made = seen.call(acme, "POST", "/v1/evals", body)
    seen.call(acme, "GET", "/v1/evals")
    seen.call(acme, "GET", "/v1/evals/{eval_id}", eval_id=made["id"])
    source = {"type": "file_content", "content": [{"item": {"answer": "Hi"}}]}
    template = {"type": "template", "template": [{"role": "user", "content": "Hi"}]}
    data = {"type": "completions", "model": MODEL, "source": source, "input_messages": template}
    runs = "/v1/evals/{eval_id}/runs"
    run = seen.call(acme, "POST", runs, {"data_source": data}, eval_id=made["id"])
    seen.call(acme, "GET", runs, eval_id=made["id"])
    one = {"eval_id": made["id"], "run_id": run["id"]}
    seen.call(acme, "GET", runs + "/{run_id}", **one)
    seen.call(acme, "POST", runs + "/{run_id}", **one)
    seen.call(acme, "GET", runs + "/{run_id}/output_items", **one)
    board = acme.get("/v1/evals/leaderboard", params={"dataset": "0" * 64})
    seen.record("GET", "/v1/evals/leaderboard", board)  # no finished run: an empty board
    items = seen.upload(acme, "items.jsonl", b'{"item": {"answer": "Hi"}}\n', "evals")
    dataset = "/v1/evals/datasets/{file_id}"
    seen.call(acme, "POST", dataset, {"private": True}, file_id=items["id"])
    seen.call(acme, "GET", dataset, file_id=items["id"])


def fine_tuning_day(seen: Answers, acme: httpx.Client, training_file: str) -> None:
    """A fine-tuning job queued (no worker runs here), read, and cancelled."""
    asked = {"model": MODEL, "training_file": training_file, "suffix": "hey", "seed": 1}
    job = seen.call(acme, "POST", "/v1/fine_tuning/jobs", asked)
    seen.call(acme, "GET", "/v1/fine_tuning/jobs")
    for route in ("", "/events", "/checkpoints"):
        seen.call(acme, "GET", "/v1/fine_tuning/jobs/{job_id}" + route, job_id=job["id"])
    seen.call(acme, "POST", "/v1/fine_tuning/jobs/{job_id}/cancel", job_id=job["id"])


def fine_tuned_model_deleted(seen: Answers, server: RunningServer, acme: httpx.Client) -> None:
    """A fine-tuned model of acme's, recorded as its job would publish it, deleted by acme."""
    engine = create_engine(sqlite_url(server.home))
    try:
        with Session(engine) as session, session.begin():
            tenant = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
            assert tenant is not None
            model = f"ft:{MODEL}:{tenant}:x:0"
            published = {
                "fine_tuned_model": model,
                "adapter_gguf": str(server.home / "adapter.gguf"),
                "adapter_sha256": "0" * 64,
                "lineage": {"base_model": MODEL},
            }
            record(session, "ftjob-0", tenant, published)
    finally:
        engine.dispose()
    seen.call(acme, "DELETE", "/v1/models/{model_id}", model_id=model)


def operator_decides(seen: Answers, admin: httpx.Client) -> None:
    """Access decisions, grants, reports, the invoice, and the price taken back."""
    pending = seen.call(admin, "GET", "/admin/access-requests", status="pending")["data"]
    by_tenant = {request["tenant"]: request["id"] for request in pending}
    approve = "/admin/access-requests/{request_id}/approve"
    seen.call(admin, "POST", approve, {"reason": "ok"}, request_id=by_tenant["acme"])
    seen.call(
        admin,
        "POST",
        "/admin/access-requests/{request_id}/deny",
        None,
        request_id=by_tenant["globex"],
    )
    grant = "/admin/tenants/{ref}/licence-grants"
    seen.call(admin, "POST", grant, {"licence_id": LICENCE.id, "note": "signed"}, ref="acme")
    seen.call(admin, "GET", "/admin/usage")
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    seen.call(admin, "GET", "/admin/invoices/{tenant}/{month}", tenant="acme", month=month)
    seen.call(admin, "GET", "/admin/audit")
    seen.call(admin, "DELETE", "/admin/models/{model_id}/price", model_id=MODEL)


def closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to any others."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    shut = {name: closed(value) for name, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        shut["additionalProperties"] = False
    return shut


def declared(document: dict[str, Any], operation: Operation, response: httpx.Response) -> Any:
    """The schema the document gives this answer's status and content type (resolving its
    `$ref`s against the document's components); an AssertionError if it gives none."""
    method, template = operation
    responses = document["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in responses, f"status {response.status_code} undocumented"
    content = responses[str(response.status_code)].get("content", {})
    media = response.headers["content-type"].split(";")[0]
    assert media in content, f"{media} undocumented (only {sorted(content)})"
    return closed({"components": document["components"], **content[media]["schema"]})


def hot_contract(template: str) -> Any:
    """A hot route's contract: its protocol TypedDict, for the document declares none."""
    answer = {
        "/v1/chat/completions": ChatCompletionResponse,
        "/v1/completions": CompletionResponse,
        "/v1/embeddings": EmbeddingResponse,
    }[template]
    return closed(TypeAdapter(answer).json_schema())


def mismatches(schema: Any, response: httpx.Response) -> list[str]:
    if response.headers["content-type"].startswith(("text/plain", "application/octet-stream")):
        return [] if response.content else ["empty body"]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(response.json())
    ]


def test_every_route_was_called(document: dict[str, Any], answers: Answers) -> None:
    listed = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}

    assert listed - set(answers.seen) == set()
    assert set(answers.seen) - listed == set()


def test_each_answer_is_what_the_document_declares(
    document: dict[str, Any], answers: Answers
) -> None:
    failures = {}
    for operation, responses in answers.seen.items():
        for response in responses:
            try:
                if operation in HOT:
                    schema = hot_contract(operation[1])
                else:
                    schema = declared(document, operation, response)
            except AssertionError as exc:
                failures[operation] = [str(exc)]
                continue
            if wrong := mismatches(schema, response):
                failures[operation] = wrong[:5]

    assert failures == {}


def test_the_hot_routes_declare_no_response_model_but_the_others_do(
    document: dict[str, Any],
) -> None:
    def schema_of(method: str, path: str) -> Any:
        ok = document["paths"][path][method.lower()]["responses"]["200"]
        return next(iter(ok["content"].values()))["schema"]

    untyped = {
        (m.upper(), path)
        for path, ops in document["paths"].items()
        for m in ops
        if schema_of(m, path) in ({}, {"type": "object"})
    }

    assert untyped == HOT
