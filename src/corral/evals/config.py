"""The `[evals]` section of the configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EvalsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contamination_corpora: list[Path] = Field(default=[], max_length=64)
    """Text or JSONL files a model may have been trained on (the operator's own corpora, or a
    public dataset's dump): every finished run reports its items that overlap any of them."""
    contamination_ngram: int = Field(default=13, ge=4, le=64)
    """Words in a row an item must share with a corpus to count as seen (lm-eval's 13)."""

    @field_validator("contamination_corpora")
    @classmethod
    def _files_exist(cls, paths: list[Path]) -> list[Path]:
        paths = [path.expanduser() for path in paths]
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise ValueError(f"no such file: {', '.join(missing)}")
        return paths
