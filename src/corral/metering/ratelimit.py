"""Per-key requests and tokens per minute, as a generic cell rate algorithm (GCRA).

Each limit keeps one number per key: the "theoretical arrival time" (TAT). A request of cost n
moves it n x (60 s / limit) later; it is allowed while TAT - now stays within one minute. So a
key may burst its whole per-minute limit and then continues at the steady rate, and OpenAI's
headers fall out directly: remaining = what still fits, reset = TAT - now.

With Redis the numbers live there and one Lua script checks and moves both limits atomically,
so every process enforces the same limit (not limit x replicas). Without Redis they live in
process memory, which is exact for one process.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from corral.errors import RateLimited
from corral.metering.batching import Batcher

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


_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local out = {}
local allowed = 1
local new = {}
for i = 1, 2 do
  local limit = tonumber(ARGV[i * 2 - 1])
  local cost = tonumber(ARGV[i * 2])
  if limit > 0 then
    local interval = 60000 / limit
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    if tat < now then tat = now end
    local proposed = tat + cost * interval
    if proposed - now > 60000 then allowed = 0 end
    new[i] = {tat, proposed, interval, limit}
  end
end
for i = 1, 2 do
  local c = new[i]
  if c then
    local after = c[1]
    if allowed == 1 then
      after = c[2]
      redis.call('SET', KEYS[i], tostring(after), 'PX', math.max(1, math.ceil(after - now)))
    end
    local remaining = math.max(0, math.floor((60000 - (after - now)) / c[3]))
    local retry = math.max(0, math.ceil(c[2] - now - 60000))
    out[#out + 1] = {c[4], remaining, math.ceil(after - now), retry}
  else
    out[#out + 1] = false
  end
end
return {allowed, out[1], out[2]}
"""

_ADJUST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
tat = tat + tonumber(ARGV[1]) * 60000 / tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], tostring(tat), 'PX', math.max(1, math.ceil(tat - now)))
end
return 1
"""


@dataclass(slots=True)
class _ScriptCall:
    script: str
    keys: list[str]
    args: list[int]
    outcome: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RedisRateLimiter:
    """Shared by every process using the same Redis. The calls of requests that arrive
    together share one pipelined round trip (`batching`)."""

    def __init__(self, redis: Any, namespace: str = "corral:rl") -> None:
        self._redis = redis
        self._shas = {text: hashlib.sha1(text.encode()).hexdigest() for text in (_ADMIT, _ADJUST)}
        self._calls = Batcher(self._send)
        self._ns = namespace

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateDecision:
        keys = [f"{self._ns}:r:{key_id}", f"{self._ns}:t:{key_id}"]
        allowed, *cells = await self._calls.submit(
            _ScriptCall(_ADMIT, keys, [rpm or 0, 1, tpm or 0, tokens])
        )
        states = [LimitState(int(c[0]), int(c[1]), int(c[2])) if c else None for c in cells]
        retry = max((int(c[3]) for c in cells if c), default=0)
        return RateDecision(bool(allowed), states[0], states[1], 0 if allowed else retry)

    async def adjust_tokens(self, key_id: str, tpm: int | None, delta: int) -> None:
        if tpm is None or delta == 0:
            return
        await self._calls.submit(_ScriptCall(_ADJUST, [f"{self._ns}:t:{key_id}"], [delta, tpm]))

    async def _send(self, calls: list[_ScriptCall]) -> None:
        results = await self._pipeline(calls)
        unknown = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if unknown:  # Redis restarted or flushed its scripts: load them, then run those again
            for text in self._shas:
                await self._redis.script_load(text)
            again = await self._pipeline([calls[i] for i in unknown])
            for i, result in zip(unknown, again, strict=True):
                results[i] = result
        for call, result in zip(calls, results, strict=True):
            if call.outcome.done():
                continue
            if isinstance(result, Exception):
                call.outcome.set_exception(result)
            else:
                call.outcome.set_result(result)

    async def _pipeline(self, calls: list[_ScriptCall]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._shas[call.script], len(call.keys), *call.keys, *call.args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
