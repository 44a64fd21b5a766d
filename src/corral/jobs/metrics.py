"""The job runner's Prometheus metrics, registered in the app's (or the worker's) registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.running = Gauge(
            "corral_jobs_running_here",
            "Jobs this process is running now.",
            ["kind"],
            registry=registry,
        )
        self.duration = Histogram(
            "corral_job_duration_seconds",
            "How long a worker ran a job, by how that run ended (succeeded, failed, cancelled, "
            "released at shutdown, or lost to another worker).",
            ["kind", "outcome"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self._registry = registry

    def started(self, kind: str) -> None:
        self.running.labels(kind).inc()

    def ended(self, kind: str, outcome: str, seconds: float) -> None:
        self.running.labels(kind).dec()
        self.duration.labels(kind, outcome).observe(seconds)

    def watch_queue(self, read: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Report the unfinished jobs of every worker by kind and status (queued, running...),
        read from the database at scrape time."""
        self._registry.register(_JobCounts(read))


class _JobCounts(Collector):
    def __init__(self, read: Callable[[], dict[tuple[str, str], int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "corral_jobs", "Unfinished jobs by kind and status.", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(self._read().items()):
            gauge.add_metric([kind, status], count)
        yield gauge
