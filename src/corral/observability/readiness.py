"""Readiness: may a load balancer send this process requests? Its models are loaded and the
stores it needs (the database, Redis when configured) answer.

Each store is probed with a short timeout, and the answer is kept for a moment, so that a load
balancer polling every second (or many of them) costs a store one probe per `cache_s`. A probe
still hanging from before is waited for again rather than joined by a second one, so a store
that hangs holds at most one probe (and one database thread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger("corral.readiness")

Probe = Callable[[], Awaitable[object]]
"""Returns when the store answers; raises (or hangs) when it does not."""


class OpsConfig(BaseModel):
    """`[ops]`: what the operational routes show, and to whom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_metrics: bool = False
    """Serve `/metrics` without the admin key (for a scraper on a private network); private
    models' names are hidden then. `/readyz` details always need the admin key."""
    readiness_timeout_s: float = Field(default=1.0, gt=0, le=60)
    """How long `/readyz` waits for the database or Redis before calling it unavailable."""
    readiness_cache_s: float = Field(default=2.0, ge=0, le=300)
    """How long one probe's answer serves further `/readyz` calls."""


@dataclass
class _Check:
    probe: Probe
    state: str = "unknown"
    checked_at: float = float("-inf")
    running: asyncio.Task[object] | None = field(default=None, repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


class Readiness:
    def __init__(
        self,
        probes: dict[str, Probe],
        config: OpsConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = {name: _Check(probe) for name, probe in probes.items()}
        self._config = config
        self._clock = clock

    async def dependencies(self) -> dict[str, str]:
        """Each store's state, "ok" or "unavailable", probed at most once per `cache_s`."""
        names = list(self._checks)
        states = await asyncio.gather(*(self._state(name) for name in names))
        return dict(zip(names, states, strict=True))

    async def _state(self, name: str) -> str:
        check = self._checks[name]
        async with check.lock:  # callers arriving during a probe share its answer
            if self._clock() - check.checked_at >= self._config.readiness_cache_s:
                check.state = await self._probe(name, check)
                check.checked_at = self._clock()
            return check.state

    async def _probe(self, name: str, check: _Check) -> str:
        if check.running is None or check.running.done():
            check.running = asyncio.ensure_future(check.probe())
            check.running.add_done_callback(_retrieve)
        try:
            # shielded: a probe that times out may finish later, and the next call sees it
            await asyncio.wait_for(asyncio.shield(check.running), self._config.readiness_timeout_s)
        except Exception as exc:
            if check.state != "unavailable":  # logged when it changes, not at every poll
                logger.error("not ready: %s unavailable: %s", name, _why(exc))
            return "unavailable"
        if check.state == "unavailable":
            logger.warning("ready again: %s answers", name)
        return "ok"


def _retrieve(task: asyncio.Task[object]) -> None:
    """Marks a failed probe's exception as seen (it was logged, or timed out before)."""
    if not task.cancelled():
        task.exception()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"
