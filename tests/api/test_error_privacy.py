"""A tenant told of a failure on the server's side reads what failed and a request id, never
where or how: no store address, no password, no database's own words. The operator's log
has those, under the same request id."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.api.errors import envelope
from corral.errors import StorageUnavailable
from corral.observability.logging import request_id_var
from tests.support import echo_entry, in_process_services

DEAD_REDIS = "redis://:hunter2@127.0.0.1:1/0"


async def test_a_dead_redis_is_a_503_without_its_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services = in_process_services(tmp_path, echo_entry(), redis_url=DEAD_REDIS)
    services.accounts.admin.create_tenant("acme")
    _, key = services.accounts.admin.create_key("acme", KeySpec(rpm=60))  # limits: Redis
    transport = httpx.ASGITransport(app=create_app(services))
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://corral") as client:
            response = await client.post(
                "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
    finally:
        await services.ledger.aclose()
        services.db.close()

    error = response.json()["error"]
    request_id = response.headers["x-request-id"]
    assert (response.status_code, error["code"]) == (503, "storage_unavailable")
    assert error["message"] == f"{StorageUnavailable.MESSAGE} (request id {request_id})"
    assert "127.0.0.1" not in response.text and "hunter2" not in response.text
    assert "Redis" in caplog.text and "127.0.0.1:1" in caplog.text  # the operator's log has it


def test_a_full_disk_reaches_the_log_and_not_the_tenant(caplog: pytest.LogCaptureFixture) -> None:
    token = request_id_var.set("req_full")
    try:
        shown = envelope(StorageUnavailable("(sqlite3.OperationalError) database or disk is full"))
    finally:
        request_id_var.reset(token)

    message = str(shown["error"]["message"])  # type: ignore[index]
    assert "disk is full" not in message and "sqlite" not in message
    assert message.endswith("(request id req_full)")
    assert "database or disk is full" in caplog.text
