"""Inference threads against the machine's cores, checked once when the server starts.

Every worker process loads every local model, and each of a model's instances computes with
`threads` threads (all the cores by default). More threads than cores make llama.cpp's OpenMP
threads spin-wait for each other's time slices: decoding was seen 10 to 100 times slower. The
server then warns, and tells OpenMP to sleep rather than spin while waiting
(`OMP_WAIT_POLICY=PASSIVE`, set for the workers it starts), which bounds the loss; fewer
`threads` or `--workers` removes it.
"""

from __future__ import annotations

import os

from corral.catalog.catalog import build_model_configs
from corral.settings import LocalModelConfig, Settings


def inference_threads(settings: Settings, workers: int, cores: int) -> int:
    """Threads all local models of all workers may run at once."""
    per_worker = 0
    for config in build_model_configs(settings):
        if isinstance(config, LocalModelConfig):
            per_worker += (config.threads or cores) * config.instances
    return per_worker * workers


def check(settings: Settings, workers: int, cores: int | None = None) -> str | None:
    """A warning if the inference threads exceed the cores (after setting OMP_WAIT_POLICY for
    the workers, unless the operator chose one); None if they fit."""
    cores = cores or os.cpu_count() or 1
    threads = inference_threads(settings, workers, cores)
    if threads <= cores:
        return None
    policy = os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return (
        f"local models may run {threads} inference threads on {cores} cores ({workers} "
        f"worker(s) x each model's threads x instances): threads that spin-wait for each "
        f"other's cores make decoding many times slower. Lower `threads` in the models' "
        f"config or --workers (OMP_WAIT_POLICY={policy} meanwhile)."
    )
