"""Licences of the open models: read them, accept them (`/v1/licences`)."""
