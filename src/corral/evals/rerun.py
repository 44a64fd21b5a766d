"""`corral eval verify --rerun`: run a manifest's items again on a server and count how many
reproduce their recorded output digest exactly.

The items are read back from the original run's output items (so a run over inline content
can be re-run too), sent as a new run of the same eval with the recorded model, messages and
sampling parameters, and each new output's digest is compared with the manifest's.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from corral.errors import InvalidRequest
from corral.evals.manifest import digest

_PAGE = 100


@dataclass(frozen=True, slots=True)
class Rerun:
    run_id: str
    compared: int
    reproduced: int
    mismatched: list[int]


def output_digest(item: dict[str, Any]) -> str:
    """The digest of an output item as the API serves it (as `report.output_digest`)."""
    output = ((item.get("sample") or {}).get("output") or [{}])[0]
    text = output.get("content") if "output" in (item.get("sample") or {}) else None
    return digest({"output_text": text, "scored": [g.get("detail") for g in item["results"]]})


def rerun(api: httpx.Client, manifest: dict[str, Any], sample: int | None, seed: int = 0) -> Rerun:
    body = manifest["manifest"]
    run, model = body["run"], body["model"]
    recorded = {i["index"]: i["output_sha256"] for i in body["items"]}
    items = _output_items(api, run["eval_id"], run["id"])
    indices = sorted(items)
    if sample is not None and sample < len(indices):
        indices = sorted(random.Random(seed).sample(indices, sample))
    content = [{"item": items[i]} for i in indices]
    data_source: dict[str, Any] = {
        "type": "completions",
        "model": model["id"],
        "source": {"type": "file_content", "content": content},
        "sampling_params": run.get("sampling_params") or {},
    }
    if run.get("input_messages"):
        data_source["input_messages"] = run["input_messages"]
    made = _json(api.post(f"/v1/evals/{run['eval_id']}/runs", json={"data_source": data_source}))
    _wait(api, run["eval_id"], made["id"])
    again = _output_items_raw(api, run["eval_id"], made["id"])
    mismatched = [
        original
        for position, original in enumerate(indices)
        if output_digest(again[position]) != recorded.get(original)
    ]
    return Rerun(made["id"], len(indices), len(indices) - len(mismatched), mismatched)


def _output_items(api: httpx.Client, eval_id: str, run_id: str) -> dict[int, dict[str, Any]]:
    return {
        item["datasource_item_id"]: item["datasource_item"]
        for item in _output_items_raw(api, eval_id, run_id)
    }


def _output_items_raw(api: httpx.Client, eval_id: str, run_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": _PAGE}
    while True:
        page = _json(api.get(f"/v1/evals/{eval_id}/runs/{run_id}/output_items", params=params))
        items.extend(page["data"])
        if not page["has_more"]:
            return items
        params["after"] = page["last_id"]


def _wait(api: httpx.Client, eval_id: str, run_id: str, poll_s: float = 0.5) -> None:
    while True:
        run = _json(api.get(f"/v1/evals/{eval_id}/runs/{run_id}"))
        if run["status"] == "completed":
            return
        if run["status"] in ("failed", "canceled"):
            raise InvalidRequest(f"The rerun {run_id} ended {run['status']}: {run['error']}")
        time.sleep(poll_s)


def _json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise InvalidRequest(f"The server answered {response.status_code}: {response.text}")
    return response.json()
