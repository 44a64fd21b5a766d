"""Usage reports over HTTP: a tenant's own (`/v1/usage`); the admin API has everyone's."""
