"""Gated models: a tenant asks for access (`/v1/models/{id}/access-requests`)."""
