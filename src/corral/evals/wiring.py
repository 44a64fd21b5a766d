"""The `eval_run` handler of a `corral worker`: its gateway and stores built from the
configuration, like the server's, on the first run (a worker that never runs an eval never
loads a model)."""

from __future__ import annotations

import functools
import secrets
from typing import TYPE_CHECKING

from pydantic import SecretStr

from corral.evals.manifest import SigningKey
from corral.evals.provenance import fine_tuned_facts, model_facts
from corral.evals.runner import EvalDeps, EvalRunHandler
from corral.settings import Settings

if TYPE_CHECKING:
    from corral.services import Services


def eval_handler(settings: Settings, services: Services | None = None) -> EvalRunHandler:
    """`services`: the server's own, when the server runs the job; else built on first use."""

    def deps() -> EvalDeps:
        nonlocal services
        if services is None:
            # The server's composition root; a worker serves no HTTP, so any admin key will do.
            from corral.services import build_services

            admin_key = settings.admin_key or SecretStr(secrets.token_urlsafe(32))
            services = build_services(settings, admin_key)
        home = settings.home
        return EvalDeps(
            services.gateway,
            services.files,
            services.evals,
            SigningKey.load_or_create(home),
            lambda model: model_facts(settings, model, home),
            corpora=lambda model: settings.evals.contamination_corpora,
            ngram=settings.evals.contamination_ngram,
            ledger=services.ledger,
            fine_tuned=functools.partial(
                fine_tuned_facts,
                settings,
                home,
                services.fine_tuned,
                services.jobs,
                services.files,
            ),
        )

    return EvalRunHandler(deps)
