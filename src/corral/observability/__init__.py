"""Logs and metrics: structured JSON logs with request ids, Prometheus metrics."""
