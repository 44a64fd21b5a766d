"""schemathesis over the served OpenAPI document, against a real `corral serve`.

Every operation the document lists is called with generated requests, valid ones and broken
ones, once with the operator's admin key and once with a tenant's key. The story a user would
notice: no request gets a 5xx, the server is still up at the end, and each answer has a status,
content type and (where the document declares one) a shape the document promises.

Bounded for CI: a fixed number of examples per operation, generated from a fixed seed
(`derandomize`), no shrinking. Inference runs on the real embedded model, so generated bodies
are capped before they are sent (`bounded`): a valid chat or completion asks for at most a few
tokens and the embedded model, not a random name; embeddings embed a few inputs at most.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import ADMIN_KEY, MODEL, RunningServer, start_server

EXAMPLES = int(os.environ.get("CORRAL_FUZZ_EXAMPLES", "12"))
"""Per operation, key and generation mode: 48 requests an operation. At 20 the fuzz took over
three minutes of the suite; a deeper run is `CORRAL_FUZZ_EXAMPLES=100 pytest tests/fuzz`."""
MAX_TOKENS = 4
MAX_INPUTS = 4
GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Findings:
    """Distinct failures: one entry per operation, key and failure title."""

    seen: dict[tuple[str, str, str], str] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def report(self) -> str:
        return "\n\n".join(
            f"{op} [{key}] {title}\n{detail}"
            for (op, key, title), detail in sorted(self.seen.items())
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("fuzz-home"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tenant_key(server: RunningServer) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.base_url, headers=admin, timeout=10) as api:
        api.post("/admin/tenants", json={"name": "fuzzed"}).raise_for_status()
        created = api.post("/admin/keys", json={"tenant": "fuzzed", "name": "fuzz"})
        created.raise_for_status()
    key: str = created.json()["key"]
    return key


Operation = APIOperation[Any, Any, Any, Any]


def bounded(case: Case[Operation]) -> None:
    """Keep a generated inference body cheap for the real model (other fields as generated)."""
    body: Any = case.body
    if not isinstance(body, dict):
        return
    if case.path in GENERATION_PATHS:
        body["model"] = MODEL
        body["max_tokens"] = capped(body.get("max_tokens", MAX_TOKENS), MAX_TOKENS)
        for name, most in (("max_completion_tokens", MAX_TOKENS), ("n", 2)):
            if name in body:
                body[name] = capped(body[name], most)
    if case.path == "/v1/embeddings":
        body["model"] = MODEL
        if isinstance(body.get("input"), list):
            body["input"] = body["input"][:MAX_INPUTS]


def capped(value: object, most: int) -> object:
    """An integer brought into 1..`most`; anything else (null, a wrong type) as generated."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, min(value, most))
    return value


def fuzz(
    operation: Operation,
    mode: GenerationMode,
    key: tuple[str, str],
    base_url: str,
    findings: Findings,
) -> None:
    key_name, secret = key
    headers = {"Authorization": f"Bearer {secret}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Operation]) -> None:
        bounded(case)
        case.headers.update(headers)  # over the bearer tokens it generated
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=60)
            findings.statuses[operation.label, response.status_code] += 1
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                title = f"{failure.code} {failure.title}"
                findings.seen.setdefault((operation.label, key_name, title), str(group)[:1500])

    with contextlib.suppress(Unsatisfiable):  # no parameters: nothing to break
        run()


def test_every_route_survives_generated_requests_with_each_key(
    server: RunningServer, tenant_key: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    findings = Findings()
    keys = [("admin", ADMIN_KEY), ("tenant", tenant_key)]
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        started = time.monotonic()
        for key in keys:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode, key, server.base_url, findings)
        answered = {
            code: n for (label, code), n in findings.statuses.items() if label == operation.label
        }
        print(f"{operation.label}: {time.monotonic() - started:.1f} s, {answered}")

    assert server.process.poll() is None, "the server died under the fuzzer"
    assert findings.statuses[("POST /v1/chat/completions", 200)] > 0, "no chat reached the model"
    assert not findings.seen, findings.report()
