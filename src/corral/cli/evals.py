"""`corral eval create | run | show | list | verify | private`: the operator's evaluations.

`create`, `run`, `show` and `list` work on the database directly, like `corral jobs` (the
operator's own evals; a `corral worker` runs the runs). `verify` needs nothing but the
manifest: it checks the signature offline; `--rerun` also runs the items again on a server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    database,
    make_table,
    print_json,
    settings_from,
)
from corral.errors import InvalidRequest
from corral.evals import service, suites
from corral.evals.datasets import Datasets
from corral.evals.manifest import verify as verify_manifest
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import Job, JobQueue
from corral.money import format_micros
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.settings import Settings

app = typer.Typer(help="Evaluations: signed, reproducible scores.", no_args_is_help=True)
JsonFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


SuiteOption = Annotated[str | None, typer.Option(help="A built-in suite (`corral eval suites`).")]


@app.command()
def create(
    definition: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, readable=True)
    ] = None,
    suite: SuiteOption = None,
    config: ConfigOption = None,
) -> None:
    """Create an eval from a JSON file (name, data_source_config, testing_criteria), or with
    `--suite` from a built-in suite's criteria; prints its id."""
    if (definition is None) == (suite is None):
        raise InvalidRequest("Give either a definition file or --suite.")
    if suite is not None:
        chosen = suites.get(suite)
        body: dict[str, Any] = {
            "name": chosen.name,
            "data_source_config": chosen.data_source_config(),
            "testing_criteria": chosen.testing_criteria,
            "metadata": {"corral_suite": chosen.name},
        }
    else:
        assert definition is not None
        body = _read_json(definition)

    async def work(store: EvalStore) -> str:
        made = await service.create_eval(
            store,
            ADMIN,
            body.get("name"),
            body.get("data_source_config") or {},
            body.get("testing_criteria") or [],
            body.get("metadata"),
        )
        return made.id

    with database(config) as (_, db):
        typer.echo(asyncio.run(work(EvalStore(db))))


@app.command()
def run(
    eval_id: str,
    data_source: Annotated[
        Path | None, typer.Option(exists=True, help="The run's data_source, JSON.")
    ] = None,
    suite: SuiteOption = None,
    model: Annotated[str | None, typer.Option(help="With --suite: the model to run.")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    wait: Annotated[bool, typer.Option(help="Show progress until the run ends.")] = False,
    allow_private_dataset: Annotated[
        bool, typer.Option(help="Send a private dataset to a partner model all the same.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Queue a run of an eval (a worker runs it); prints its id, and its quote on stderr. The
    data source is a JSON file, or `--suite NAME --model MODEL` (the suite's items and
    messages, greedy)."""
    if data_source is not None and suite is None:
        source = _read_json(data_source)
    elif data_source is None and suite is not None and model is not None:
        source = suites.get(suite).data_source(model)
    else:
        raise InvalidRequest("Give either --data-source, or --suite with --model.")
    settings = settings_from(config)
    job = asyncio.run(_start(settings, eval_id, name, source, allow_private_dataset))
    typer.echo(job.id)
    quote = int((job.params.get("billing") or {}).get("quote_micros", 0))
    typer.echo(f"quote: up to {format_micros(quote)}", err=True)
    if wait:
        with database(config) as (_, db):
            _follow(JobQueue(db), job.id)


async def _start(
    settings: Settings,
    eval_id: str,
    name: str | None,
    source: dict[str, Any],
    allow_private_dataset: bool,
) -> Job:
    """As `POST /v1/evals/{id}/runs`, as the operator: the model resolved, a private dataset
    kept from partners, the run quoted (the operator has no budget: nothing is held)."""
    from corral.observability.logging import new_request_id
    from corral.services import build_services

    services = build_services(settings, SecretStr(secrets.token_hex(16)))
    try:
        evaluation = await services.evals.get(None, eval_id)
        ctx = RequestContext(new_request_id(), ADMIN)
        return await service.start_run(
            services, ctx, evaluation, name, source, None, allow_private_dataset
        )
    finally:
        await services.aclose()


@app.command()
def private(
    file_id: str,
    tenant: Annotated[
        str | None, typer.Option(help="The file's tenant (name or id); none: the operator's.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Mark it not private again.")] = False,
    config: ConfigOption = None,
) -> None:
    """Mark an eval dataset private: runs of it (every upload of the same bytes) are not sent
    to a partner model unless they allow it (`--allow-private-dataset`)."""
    with database(config) as (settings, db):
        owner = accounts(settings, db).get_tenant(tenant).id if tenant else "admin"
        datasets = Datasets(db, FileStore(db, settings.home, settings.files))
        marked = asyncio.run(datasets.mark(owner, file_id, not off))
    state = "private" if marked.private else "not private"
    typer.echo(f"{marked.file_id} (sha256 {marked.sha256}): {state}")


@app.command("suites")
def list_suites(as_json: JsonOption = False) -> None:
    """The built-in suites: run one with `create --suite` and `run --suite --model`."""
    from rich.console import Console

    described = [s.describe() for s in suites.SUITES.values()]
    if as_json:
        print_json({"data": described})
        return
    table = make_table("name", "items", "language", "criteria", "description")
    for d in described:
        kinds = ", ".join(str(c["type"]) for c in d["testing_criteria"])
        table.add_row(d["name"], str(d["items"]), d["language"], kinds, d["description"])
    Console().print(table)


@app.command("import")
def import_items(
    source: JsonFile,
    fmt: Annotated[str, typer.Option("--format", help="lm-eval or openai-evals.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the items.")],
) -> None:
    """Convert an lm-eval or OpenAI-evals JSONL file into corral's items (`{"item": ...}` per
    line), ready for `corral files upload --purpose evals` or `client.files.create`."""
    from corral.evals.importers import convert

    with source.open(encoding="utf-8") as lines:
        rows = [json.dumps({"item": item}, ensure_ascii=False) for item in convert(lines, fmt)]
    output.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    typer.echo(f"{len(rows)} items written to {output}")


@app.command()
def show(
    run_id: str,
    manifest: Annotated[
        Path | None, typer.Option(help="Write the signed manifest to this file.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """A run as JSON: status, progress with an ETA, counts and scores."""
    with database(config) as (_, db):
        job = asyncio.run(JobQueue(db).get(run_id))
    result = job.result or {}
    if manifest is not None:
        if "manifest" not in result:
            raise InvalidRequest(f"Run {run_id} has no manifest yet ({job.status}).")
        manifest.write_text(json.dumps(result["manifest"], indent=1, ensure_ascii=False))
    print_json(
        {
            "id": job.id,
            "eval_id": job.params.get("eval_id"),
            "status": job.status,
            "progress": job.progress.to_json()
            | {"eta_seconds": job.eta_seconds(dt.datetime.now(dt.UTC))},
            "result_counts": result.get("result_counts"),
            "scores": result.get("scores"),
            "error": job.error,
        }
    )


@app.command("list")
def list_evals(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Every eval, newest first."""
    from rich.console import Console

    with database(config) as (_, db):
        records = asyncio.run(EvalStore(db).list_evals(None, limit=1000))
    if as_json:
        print_json({"data": [{"id": r.id, "owner": r.owner, "name": r.name} for r in records]})
        return
    table = make_table("id", "owner", "name", "criteria", "created")
    for r in records:
        names = ", ".join(str(c.get("name")) for c in r.testing_criteria)
        table.add_row(r.id, r.owner, r.name, names, r.created_at.isoformat(timespec="seconds"))
    Console().print(table)


@app.command()
def verify(
    manifest: JsonFile,
    key: Annotated[
        str | None,
        typer.Option(help="The operator's public key (base64, from /v1/evals/signing-key)."),
    ] = None,
    rerun: Annotated[
        bool, typer.Option(help="Also run the items again on a server and compare outputs.")
    ] = False,
    sample: Annotated[int | None, typer.Option(min=1, help="Re-run this many items.")] = None,
    base_url: Annotated[str, typer.Option(envvar="CORRAL_URL")] = "http://127.0.0.1:8080",
    api_key: Annotated[str | None, typer.Option(envvar="CORRAL_API_KEY")] = None,
) -> None:
    """Check a manifest's signature offline; exits 1 when it does not hold. With `--rerun`,
    re-run its items (the run's owner's key) and exit 1 unless every one reproduces."""
    document = _read_json(manifest)
    problem = verify_manifest(document, trusted_public_key=key)
    if problem is not None:
        typer.echo(f"NOT VALID: {problem}", err=True)
        raise typer.Exit(1)
    signer = document["signature"]["key_id"]
    trust = "the trusted key" if key else f"{signer} (pass --key to pin the operator's key)"
    typer.echo(f"valid: signed by {trust}")
    if rerun:
        _rerun(document, sample, base_url, api_key)


def _rerun(document: dict[str, Any], sample: int | None, base_url: str, key: str | None) -> None:
    import httpx

    from corral.evals.rerun import rerun

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:
        outcome = rerun(api, document, sample)
    typer.echo(
        f"rerun {outcome.run_id}: {outcome.reproduced} of {outcome.compared} items "
        "reproduce exactly"
    )
    if outcome.mismatched:
        typer.echo(f"differ: items {', '.join(map(str, outcome.mismatched))}", err=True)
        raise typer.Exit(1)


def _follow(queue: JobQueue, run_id: str) -> None:
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task(run_id, total=None)
        while True:
            job = asyncio.run(queue.get(run_id))
            score = job.progress.extra.get("score")
            label = f"{run_id} score {score:.3f}" if isinstance(score, float) else run_id
            bar.update(
                task, completed=job.progress.done, total=job.progress.total, description=label
            )
            if job.finished:
                break
            time.sleep(1.0)
    typer.echo(f"{run_id}: {job.status}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path} does not hold a JSON object.")
    return value
