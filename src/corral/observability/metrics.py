"""Prometheus metrics, kept in one registry owned by the app (no module-level globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "corral_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "corral_request_duration_seconds",
            "Time to the response's headers (streams: to the first byte).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "corral_tokens", "Tokens processed.", ["model", "direction"], registry=self.registry
        )
        self.time_to_first_token = Histogram(
            "corral_time_to_first_token_seconds",
            "From admission to the first generated text of a stream.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        # Labelled children by their labels: prometheus_client's `labels()` validates and locks
        # on every call, a cost every request paid four times.
        self._children: dict[tuple[Any, ...], Any] = {}

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.latency, method, route).observe(seconds)

    def tokens_used(self, model: str, prompt: int, completion: int) -> None:
        self._child(self.tokens, model, "input").inc(prompt)
        self._child(self.tokens, model, "output").inc(completion)

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def exposition(self, hidden_models: frozenset[str] = frozenset()) -> bytes:
        """Prometheus' text format; the models in `hidden_models` (private models, shown to
        someone who may not know of them) are counted together under `model="private"`."""
        if not hidden_models:
            return generate_latest(self.registry)
        return generate_latest(_HidingModels(self.registry, hidden_models))

    def watch_queue_depth(self, read: Callable[[], dict[str, int]]) -> None:
        """Report each model's waiting requests, read at scrape time."""
        self.registry.register(_QueueDepth(read))

    def watch_engines(self, read: Callable[[], dict[str, EngineFigures]]) -> None:
        """Report each local model's engine (batching, prefix cache), read at scrape time."""
        self.registry.register(_Engines(read))


class EngineFigures(Protocol):
    """What a local model's engine reports (`backends.llama_cpp.stats.EngineStats`)."""

    active_sequences: int
    steps: int
    step_tokens: int
    cached_tokens: int
    prefix_copies: int
    prefix_restores: int
    cache_full: int
    waits: int
    wait_seconds: float


class _QueueDepth(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "corral_queue_depth", "Requests waiting for a model instance.", labels=["model"]
        )
        for model, depth in self._read().items():
            gauge.add_metric([model], depth)
        yield gauge


class _Engines(Collector):
    def __init__(self, read: Callable[[], dict[str, EngineFigures]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        engines = self._read()
        active = GaugeMetricFamily(
            "corral_engine_active_sequences", "Sequences being generated.", labels=["model"]
        )
        batch = SummaryMetricFamily(
            "corral_engine_batch_tokens",
            "Tokens per batched decode step (count: steps; sum / count: mean batch size).",
            labels=["model"],
        )
        cached = CounterMetricFamily(
            "corral_engine_cached_prompt_tokens",
            "Prompt tokens found in the prefix cache, not computed again.",
            labels=["model"],
        )
        copies = CounterMetricFamily(
            "corral_engine_prefix_copies",
            "Cached prefixes copied from another sequence's KV cells.",
            labels=["model"],
        )
        restores = CounterMetricFamily(
            "corral_engine_prefix_restores",
            "Cached prefixes copied back from host memory, where idle sequences are parked.",
            labels=["model"],
        )
        full = CounterMetricFamily(
            "corral_engine_kv_cache_full",
            "Sequences ended because the shared KV cache had no cell left (503).",
            labels=["model"],
        )
        wait = SummaryMetricFamily(
            "corral_engine_queue_wait_seconds",
            "Time requests waited for a free sequence or instance.",
            labels=["model"],
        )
        for model, figures in engines.items():
            active.add_metric([model], figures.active_sequences)
            batch.add_metric([model], figures.steps, figures.step_tokens)
            cached.add_metric([model], figures.cached_tokens)
            copies.add_metric([model], figures.prefix_copies)
            restores.add_metric([model], figures.prefix_restores)
            full.add_metric([model], figures.cache_full)
            wait.add_metric([model], figures.waits, figures.wait_seconds)
        yield from (active, batch, cached, copies, restores, full, wait)


class _HidingModels(Collector):
    """The registry's metrics with hidden models' labels merged into one `private` label."""

    def __init__(self, registry: CollectorRegistry, hidden: frozenset[str]) -> None:
        self._registry = registry
        self._hidden = hidden

    def collect(self) -> Iterable[Metric]:
        for metric in self._registry.collect():
            merged: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
            for sample in metric.samples:
                labels = dict(sample.labels)
                if labels.get("model") in self._hidden:
                    labels["model"] = "private"
                key = (sample.name, tuple(sorted(labels.items())))
                known = merged.get(key)
                value = sample.value + (known.value if known is not None else 0)
                merged[key] = sample._replace(labels=labels, value=value)
            metric.samples = list(merged.values())
            yield metric
