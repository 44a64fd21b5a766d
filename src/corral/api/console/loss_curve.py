"""A fine-tuning job's loss curve as server-rendered SVG geometry: training and validation
loss per step, read from the job's metric events (`finetune.handler` writes `step`,
`train_loss` and, when there is a validation file, `valid_loss`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

WIDTH = 640
HEIGHT = 240
_PAD_LEFT = 48
_PAD_BOTTOM = 22
_PAD_TOP = 8
_PAD_RIGHT = 8


@dataclass(frozen=True, slots=True)
class LossCurve:
    train: str
    """The training loss's polyline points ("x,y x,y ..."); empty without metrics."""
    valid: str
    first_step: int
    last_step: int
    low: float
    high: float
    points: int
    last_train: float | None
    last_valid: float | None


def metrics_of(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The metric events' data, by step (a resumed job may log a step twice: the last wins)."""
    by_step: dict[int, dict[str, Any]] = {}
    for event in events:
        data = event.data
        if not isinstance(data, dict) or not all(
            _number(data.get(k)) for k in ("step", "train_loss")
        ):
            continue
        if data.get("valid_loss") is not None and not _number(data["valid_loss"]):
            data = {k: v for k, v in data.items() if k != "valid_loss"}
        by_step[int(data["step"])] = data
    return [by_step[step] for step in sorted(by_step)]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def loss_curve(metrics: list[dict[str, Any]]) -> LossCurve | None:
    """None when the job has logged no step yet."""
    if not metrics:
        return None
    steps = [int(m["step"]) for m in metrics]
    losses = [float(m["train_loss"]) for m in metrics]
    losses += [float(m["valid_loss"]) for m in metrics if m.get("valid_loss") is not None]
    low, high = min(losses), max(losses)
    first, last = steps[0], steps[-1]

    def point(step: int, loss: float) -> str:
        span_x = (last - first) or 1
        span_y = (high - low) or 1.0
        x = _PAD_LEFT + (step - first) * (WIDTH - _PAD_LEFT - _PAD_RIGHT) / span_x
        y = _PAD_TOP + (high - loss) * (HEIGHT - _PAD_TOP - _PAD_BOTTOM) / span_y
        return f"{x:.1f},{y:.1f}"

    train = " ".join(point(int(m["step"]), float(m["train_loss"])) for m in metrics)
    with_valid = [m for m in metrics if m.get("valid_loss") is not None]
    valid = " ".join(point(int(m["step"]), float(m["valid_loss"])) for m in with_valid)
    return LossCurve(
        train=train,
        valid=valid,
        first_step=first,
        last_step=last,
        low=low,
        high=high,
        points=len(metrics),
        last_train=float(metrics[-1]["train_loss"]),
        last_valid=float(with_valid[-1]["valid_loss"]) if with_valid else None,
    )


AXES = {
    "left": _PAD_LEFT,
    "right": WIDTH - _PAD_RIGHT,
    "top": _PAD_TOP,
    "bottom": HEIGHT - _PAD_BOTTOM,
}
