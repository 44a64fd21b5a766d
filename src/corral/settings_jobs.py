"""The `[jobs]` and `[finetuning]` sections of the configuration (apart from `settings`, which
is long enough; nothing here imports corral, so `corral.settings` may import it)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_in_server: bool = True
    """`corral serve` runs queued jobs itself, one at a time, in one of its processes per
    `CORRAL_HOME` (with `--workers N` too). Off (`CORRAL_JOBS__WORKER_IN_SERVER=false`): only
    `corral worker` processes run them."""
    worker_threads: int | None = Field(default=None, ge=1, le=512)
    """Threads a training job in the server may use; unset: half the cores (at least one),
    the rest left to the models it serves, and never more than the cores nobody else uses."""
    lease_s: float = Field(default=30.0, ge=0.1, le=3600)
    """A job whose worker died is resumed elsewhere this long after its last heartbeat."""
    heartbeat_s: float = Field(default=2.0, gt=0, le=600)
    """How often the server's worker renews its leases and notices cancellations."""
    poll_s: float = Field(default=2.0, gt=0, le=600)
    """How often an idle server's worker looks for a job (a read; a claim only when there is
    one): a job waits about this long before it starts."""


class FineTuningConfig(BaseModel):
    """What the operator charges for fine-tuning, in the billing currency per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    training_price_per_mtok: Decimal = Decimal(0)
    """Per million trained tokens (each example's tokens times the epochs)."""
    input_price_per_mtok: Decimal = Decimal(0)
    """Per million prompt tokens sent to a fine-tuned model."""
    output_price_per_mtok: Decimal = Decimal(0)
    """Per million tokens a fine-tuned model generates."""

    @field_validator("training_price_per_mtok", "input_price_per_mtok", "output_price_per_mtok")
    @classmethod
    def _micro_units(cls, value: Decimal) -> Decimal:
        if value < 0 or not value.is_finite():
            raise ValueError("a price must be a finite amount >= 0")
        if value != value.quantize(Decimal("0.000001")):
            raise ValueError("a price has at most 6 decimals (money is kept in micro-units)")
        return value
