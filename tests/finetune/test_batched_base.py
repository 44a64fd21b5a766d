"""A tenant's fine-tuned model on a base served batched (`slots = 4`), through the official
SDK against a real `corral serve`: it answers (no longer refused), with its own adapter's text,
and the base still answers as before. The model's row is written as a finished job writes it,
over a random adapter: no training here (`test_private_model.py` trains one)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from corral.settings import load_settings
from corral.storage.tables import FineTunedModel
from tests.accounts_kit import accounts, sdk, sqlite_url
from tests.finetune.test_adapters import random_adapter
from tests.support import start_server

PROMPT: Any = [{"role": "user", "content": "Say hello."}]


def publish(home: Path, tenant_id: str, adapter: Path) -> str:
    """A fine-tuned model of `tenant_id` on the base "smol", as a finished job records it."""
    model = f"ft:smol:{tenant_id}:batched:job1"
    engine = create_engine(sqlite_url(home))
    with Session(engine) as session:
        session.add(
            FineTunedModel(
                id=model,
                tenant_id=tenant_id,
                job_id="job1",
                base_model="smol",
                adapter_path=str(adapter),
                adapter_sha256="0" * 64,
                lineage={},
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        session.commit()
    engine.dispose()
    return model


def test_a_fine_tuned_model_on_a_batched_base_answers_with_its_adapter(tmp_path: Path) -> None:
    home = tmp_path / "home"
    adapter = random_adapter(tmp_path / "adapter.gguf", seed=1)
    base_path = load_settings().embedded_model_path
    config = (
        "embedded_model = false\n[[models]]\n"
        f'name = "smol"\npath = "{base_path}"\nslots = 4\ncontext_length = 512\n'
    )
    server = start_server(home, config, env={"CORRAL_JOBS__WORKER_IN_SERVER": "false"})
    try:
        with accounts(home, sqlite_url(home)) as operator:
            acme = operator.tenant_with_key("acme")
            model = publish(home, acme.tenant.id, adapter)
            with sdk(server, acme.secret) as client:

                def answer(name: str) -> str:
                    reply = client.chat.completions.create(
                        model=name, messages=PROMPT, max_tokens=12, temperature=0
                    )
                    return reply.choices[0].message.content or ""

                base, tuned, base_again = answer("smol"), answer(model), answer("smol")
    finally:
        server.stop()

    assert tuned and tuned != base
    assert base_again == base
