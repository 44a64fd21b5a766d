"""The operator's HTTP API under /admin: tenants, keys, access, grants, prices, usage."""
