"""The served OpenAPI document describes what each route takes and what it answers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import RunningServer


def served_document(server: RunningServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server.base_url}/openapi.json").json()
    return document


def body_schema(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_the_inference_routes_document_their_request_bodies(server: RunningServer) -> None:
    document = served_document(server)

    chat = body_schema(document, "/v1/chat/completions")
    message = chat["properties"]["messages"]["items"]["$ref"].rsplit("/", 1)[-1]

    assert chat["required"] == ["model", "messages"]
    assert "role" in document["components"]["schemas"][message]["properties"]
    assert "prompt" in body_schema(document, "/v1/completions")["properties"]
    assert "input" in body_schema(document, "/v1/embeddings")["properties"]
    assert "posts" in body_schema(document, "/v1/tasks/summarize")["properties"]
    assert "name" in body_schema(document, "/admin/tenants")["properties"]
    assert body_schema(document, "/admin/models/{model_id}/price", "put")["required"]


def test_errors_are_documented_as_sent_and_never_as_422(server: RunningServer) -> None:
    document = served_document(server)
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    chat = document["paths"]["/v1/chat/completions"]["post"]
    tenants = document["paths"]["/admin/tenants"]["get"]

    assert not [op["operationId"] for op in operations if "422" in op["responses"]]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"400", "401", "403", "404", "413", "429", "503"} <= set(chat["responses"])
    assert chat["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert {"401", "403"} <= set(tenants["responses"])
    assert chat["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_an_approval_without_a_body_is_still_accepted(server: RunningServer) -> None:
    answer = httpx.post(
        f"{server.base_url}/admin/access-requests/areq_missing/approve",
        headers={"Authorization": "Bearer sk-test-admin-key"},
    )

    assert answer.status_code == 404  # parsed (an empty body is no decision reason), then looked up
