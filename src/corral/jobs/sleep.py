"""The `sleep` job kind: steps that only wait, for trying a worker (crash, resume, cancel).

Params: `steps` (10), `step_seconds` (1.0), `fail_at` (a step that fails, for trying failures).
Each step is checkpointed with its event, so a resumed job goes on from the next step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from corral.errors import InvalidRequest, ServerError
from corral.jobs.context import JobContext
from corral.jobs.model import Entry, Job, Progress

KIND = "sleep"


class SleepHandler:
    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        steps, step_seconds, fail_at = _params(job.params)
        start = int((job.checkpoint or {}).get("step", 0))
        for step in range(start + 1, steps + 1):
            await asyncio.sleep(step_seconds)
            if step == fail_at:
                raise ServerError(f"Step {step} failed, as asked.", code="requested_failure")
            await context.checkpoint(
                {"step": step},
                Progress(step, steps),
                events=[Entry(f"Step {step} of {steps} done", {"step": step})],
            )
        return {"steps": steps, "resumed_from": start, "attempt": context.attempt}


def _params(params: dict[str, Any]) -> tuple[int, float, int | None]:
    try:
        steps = int(params.get("steps", 10))
        step_seconds = float(params.get("step_seconds", 1.0))
        fail_at = params.get("fail_at")
        return steps, step_seconds, None if fail_at is None else int(fail_at)
    except (TypeError, ValueError):
        raise InvalidRequest("steps, step_seconds and fail_at must be numbers.") from None
