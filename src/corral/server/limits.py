"""`[server.connections]`: what one HTTP connection may cost the server (`connections`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConnectionLimits(BaseModel):
    """What one HTTP connection may cost the server; each count is per server process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """From a connection's opening (or a next request's first byte) to its headers' end."""
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """From a request's headers to the end of its body."""
    keep_alive_timeout_s: int = Field(default=5, ge=1, le=3600)
    """How long an idle connection stays open after a response."""
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """The request line and headers of one request."""
    max_connections: int = Field(default=4096, ge=1, le=1_000_000)
    """Open connections in all."""
    max_per_client: int = Field(default=256, ge=0, le=1_000_000)
    """Open connections from one client address; 0: no cap (behind a proxy, all are its)."""
