"""The `[files]` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FilesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1, le=1024**4)
    """The largest file one upload may hold; a larger one is refused with 413."""
    pii_scan_max_bytes: int = Field(default=4 * 1024 * 1024, ge=0, le=1024**3)
    """Fine-tuning files up to this size are scanned for personal data on upload (the
    detector reads about a megabyte a second); larger ones are stored unscanned, and say so."""
    pii_scan_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Where a scan stops; what it counted so far is kept, marked partial."""
