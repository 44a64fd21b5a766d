"""A run of a tenant's fine-tuned model records in its manifest the digest `/v1/models` serves
for it (its base's weights with its adapter's SHA-256) and its lineage (the job, the training
files by SHA-256), and is checked for contamination against the files it was trained on."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from corral.catalog.digest import digest_of, model_facts
from corral.evals.contamination import report
from corral.evals.provenance import fine_tuned_facts
from corral.evals.store import OutputItem
from corral.files.store import FileStore
from corral.finetune.models import FineTunedModels
from corral.jobs import JobQueue
from corral.settings import LocalModelConfig, load_settings
from corral.storage import open_database
from corral.storage.tables import FineTunedModel, Tenant

SEEN = "The quick brown fox jumps over the lazy dog while the farmer counts his seven sheep."
EXAMPLES = [
    {"messages": [{"role": "user", "content": SEEN}, {"role": "assistant", "content": "Yes."}]},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]},
]


async def test_a_fine_tuned_models_manifest_has_its_digest_and_lineage(tmp_path: Path) -> None:
    weights = tmp_path / "base.gguf"
    weights.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    base = {"name": "base", "backend": "llama-cpp", "path": str(weights)}
    settings = load_settings(home=tmp_path, embedded_model=False, models=[base])
    db = open_database(settings)
    try:
        files = FileStore(db, tmp_path, settings.files)
        incoming = files.receive()
        incoming.write(b"".join(json.dumps(e).encode() + b"\n" for e in EXAMPLES))
        training = await files.add("t1", "train.jsonl", "fine-tune", incoming)
        incoming.discard()
        jobs = JobQueue(db)
        job = await jobs.submit("fine_tuning", "t1", {"training_file": training.id})
        adapter = tmp_path / "adapter.gguf"
        adapter.write_bytes(b"lora")
        adapter_sha = hashlib.sha256(b"lora").hexdigest()
        with db.write() as session:
            now = dt.datetime.now(dt.UTC)
            session.add(
                Tenant(id="t1", name="acme", policy="allow", created_at=now, updated_at=now)
            )
            session.add(
                FineTunedModel(
                    id="ft:base:acme:caps:abc",
                    tenant_id="t1",
                    job_id=job.id,
                    base_model="base",
                    adapter_path=str(adapter),
                    adapter_sha256=adapter_sha,
                    lineage={"file_sha256": {"training_file": training.sha256}},
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        models = FineTunedModels(db, (0, 0), tmp_path)
        found = await fine_tuned_facts(
            settings, tmp_path, models, jobs, files, "ft:base:acme:caps:abc"
        )
        assert await fine_tuned_facts(settings, tmp_path, models, jobs, files, "base") is None
    finally:
        db.close()

    assert found is not None
    facts, trained_on = found
    (config,) = [m for m in settings.models if isinstance(m, LocalModelConfig)]
    assert facts["digest"] == digest_of(model_facts(config, tmp_path, adapter_sha))  # as served
    assert facts["adapter_sha256"] == adapter_sha
    assert facts["lineage"]["fine_tuning_job"] == job.id
    assert facts["lineage"]["training_files"] == [
        {"role": "training_file", "file_id": training.id, "sha256": training.sha256}
    ]

    now = dt.datetime.now(dt.UTC)
    items = [
        OutputItem("o0", "r", 0, "pass", {"q": SEEN}, [], None, now),
        OutputItem("o1", "r", 1, "pass", {"q": "A question nobody has trained on."}, [], None, now),
    ]
    checked = report(trained_on, items, [], 0, 13)
    assert checked["contaminated_items"] == [0]
    assert checked["checked_against"][0]["sha256"] == training.sha256
