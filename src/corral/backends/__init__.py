"""Backends: where tokens come from. One protocol (`base.Backend`), one module per kind."""
