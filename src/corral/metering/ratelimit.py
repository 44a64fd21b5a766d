"""Per-key requests and tokens per minute, as a generic cell rate algorithm (GCRA).

Each limit keeps one number per key: the "theoretical arrival time" (TAT). A request of cost n
moves it n x (60 s / limit) later; it is allowed while TAT - now stays within one minute. So a
key may burst its whole per-minute limit and then continues at the steady rate, and OpenAI's
headers fall out directly: remaining = what still fits, reset = TAT - now.

With Redis the numbers live there and one Lua script checks and moves both limits atomically,
so every process enforces the same limit (not limit x replicas; `ratelimit_redis`). Without
Redis they live in process memory, which is exact for one process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from corral.errors import RateLimited

WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class LimitState:
    limit: int
    remaining: int
    reset_ms: int


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    requests: LimitState | None
    tokens: LimitState | None
    retry_after_ms: int

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, state in (("requests", self.requests), ("tokens", self.tokens)):
            if state is not None:
                out[f"x-ratelimit-limit-{kind}"] = str(state.limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(state.remaining)
                out[f"x-ratelimit-reset-{kind}"] = duration(state.reset_ms)
        return out


class RateLimiter(Protocol):
    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateDecision:
        """Count one request of `tokens` if both limits allow it; say so either way."""
        ...

    async def adjust_tokens(self, key_id: str, tpm: int | None, delta: int) -> None:
        """Correct the token count once the actual usage is known (delta may be negative)."""
        ...


def check(tat_ms: float, now_ms: float, limit: int, cost: int) -> tuple[bool, float, LimitState]:
    """One GCRA step: (allowed, new TAT if allowed, state to report)."""
    interval = WINDOW_MS / limit
    base = max(tat_ms, now_ms)
    proposed = base + cost * interval
    allowed = proposed - now_ms <= WINDOW_MS
    after = proposed if allowed else base
    remaining = max(0, math.floor((WINDOW_MS - (after - now_ms)) / interval))
    return allowed, proposed, LimitState(limit, remaining, math.ceil(after - now_ms))


def retry_after_ms(tat_ms: float, now_ms: float, limit: int, cost: int) -> int:
    interval = WINDOW_MS / limit
    return max(0, math.ceil(max(tat_ms, now_ms) + cost * interval - now_ms - WINDOW_MS))


def refuse(decision: RateDecision, rpm: int | None, tpm: int | None, tokens: int) -> RateLimited:
    seconds = max(1, math.ceil(decision.retry_after_ms / 1000))
    headers = {**decision.headers(), "Retry-After": str(seconds)}
    if tpm is not None and tokens > tpm:
        return RateLimited(
            f"This request needs up to {tokens} tokens (prompt plus max_tokens), more than this "
            f"key's limit of {tpm} tokens per minute. Lower max_tokens or shorten the prompt.",
            headers={k: v for k, v in headers.items() if k != "Retry-After"},
        )
    which = "requests" if decision.requests and decision.requests.remaining == 0 else "tokens"
    limit = rpm if which == "requests" else tpm
    return RateLimited(
        f"Rate limit reached for this key: {limit} {which} per minute. Try again in {seconds} s.",
        headers=headers,
    )


def duration(ms: int) -> str:
    """OpenAI's reset format: '120ms', '1.5s', '6m0s'."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s"


class LocalRateLimiter:
    """Exact within one process; for one server without Redis."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateDecision:
        now_ms = time.time() * 1000
        states: list[LimitState | None] = []
        moves: dict[str, float] = {}
        allowed, retry = True, 0
        for cell, limit, cost in ((f"r:{key_id}", rpm, 1), (f"t:{key_id}", tpm, tokens)):
            if limit is None:
                states.append(None)
                continue
            tat = self._tat.get(cell, now_ms)
            fits, proposed, state = check(tat, now_ms, limit, cost)
            states.append(state)
            moves[cell] = proposed
            if not fits:
                allowed = False
                retry = max(retry, retry_after_ms(tat, now_ms, limit, cost))
        if allowed:
            self._tat.update(moves)
        else:  # nothing was counted: report each limit as it stands
            states = [
                None if limit is None else check(self._tat.get(cell, now_ms), now_ms, limit, 0)[2]
                for cell, limit in ((f"r:{key_id}", rpm), (f"t:{key_id}", tpm))
            ]
        return RateDecision(allowed, states[0], states[1], retry)

    async def adjust_tokens(self, key_id: str, tpm: int | None, delta: int) -> None:
        if tpm is None or delta == 0:
            return
        cell = f"t:{key_id}"
        now_ms = time.time() * 1000
        tat = self._tat.get(cell, now_ms) + delta * WINDOW_MS / tpm
        if tat <= now_ms:
            self._tat.pop(cell, None)
        else:
            self._tat[cell] = tat
