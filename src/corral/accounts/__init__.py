"""Tenants, API keys, licence acceptances and access grants; the hot-path cache of them."""
