"""The loss curve's geometry: one point per step, higher loss higher up, a resumed job's
repeated step counted once, and a flat or single-step curve drawn without dividing by zero."""

from __future__ import annotations

import datetime as dt
from typing import Any

from corral.api.console.loss_curve import AXES, loss_curve, metrics_of
from corral.jobs.model import Event


def _event(seq: int, data: dict[str, Any] | None) -> Event:
    return Event(seq, dt.datetime.now(dt.UTC), "info", f"event {seq}", data)


def _ys(points: str) -> list[float]:
    return [float(p.split(",")[1]) for p in points.split()]


def test_points_follow_the_losses_and_a_resumed_step_counts_once() -> None:
    events = [
        _event(1, None),
        _event(2, {"step": 1, "train_loss": 2.0}),
        _event(3, {"step": 2, "train_loss": 1.5}),
        _event(4, {"step": 2, "train_loss": 1.0, "valid_loss": 1.2}),  # resumed: step 2 again
        _event(5, {"parity": 1.0}),
        _event(6, {"step": 9, "train_loss": "NaN?"}),  # not a number: not drawn
        _event(6, {"step": 9, "train_loss": float("nan")}),
        _event(6, {"step": 9, "train_loss": float("inf")}),
        _event(6, {"step": 3, "train_loss": 0.5, "valid_loss": 0.9}),
    ]
    metrics = metrics_of(events)
    curve = loss_curve(metrics)

    assert [m["step"] for m in metrics] == [1, 2, 3] and metrics[1]["train_loss"] == 1.0
    assert curve is not None and curve.points == 3
    train, valid = _ys(curve.train), _ys(curve.valid)
    assert train[0] == AXES["top"] and train[-1] == AXES["bottom"]  # highest at the top
    assert train == sorted(train) and len(valid) == 2
    assert (curve.low, curve.high, curve.last_valid) == (0.5, 2.0, 0.9)


def test_a_flat_or_single_step_curve_and_none_before_the_first_step() -> None:
    flat = loss_curve([{"step": 5, "train_loss": 1.0}, {"step": 6, "train_loss": 1.0}])
    single = loss_curve([{"step": 1, "train_loss": 3.0}])

    assert flat is not None and len(set(_ys(flat.train))) == 1 and flat.valid == ""
    assert single is not None and single.train.count(",") == 1
    assert loss_curve([]) is None
