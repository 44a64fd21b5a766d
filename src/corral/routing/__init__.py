"""Routing: aliases over several models, fallback on retryable errors, retries with backoff,
circuit breakers per backend, and weighted replicas of one model."""
