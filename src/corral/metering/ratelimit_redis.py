"""Per-key rate limits kept in Redis, shared by every corral process that uses the same Redis.

The algorithm is `ratelimit`'s (GCRA); here it runs as Lua scripts, so one call checks and
moves both of a key's limits atomically. The calls of requests that arrive together share one
pipelined round trip (`batching`).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from corral.errors import StorageUnavailable
from corral.metering.batching import Batcher
from corral.metering.ratelimit import LimitState, RateDecision

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
        self._connection: Any = None

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
        try:
            try:
                return await self._round_trip(calls)
            except RedisConnectionError:  # the connection went (Redis restarted): a new one
                return await self._round_trip(calls)
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(f"The rate-limit store (Redis) is unavailable: {exc}") from exc

    async def _round_trip(self, calls: list[_ScriptCall]) -> list[Any]:
        """Each call's result, or its error reply, from one round trip on this limiter's own
        connection: the batcher sends one batch at a time, so one connection serves them all,
        without redis-py's per-command pool and retry layers (about 70 us of CPU a call)."""
        connection = self._connection
        try:
            if connection is None:
                connection = self._connection = await self._redis.connection_pool.get_connection()
            commands = [
                ("EVALSHA", self._shas[call.script], len(call.keys), *call.keys, *call.args)
                for call in calls
            ]
            await connection.send_packed_command(connection.pack_commands(commands))
            return [await _reply(connection) for _ in calls]
        except BaseException:  # failed or cancelled mid-way: replies may be left unread
            await self._drop(connection)
            raise

    async def _drop(self, connection: Any) -> None:
        """Forget a connection in an unknown state; the next batch opens another."""
        if connection is not None:
            self._connection = None
            await connection.disconnect()
            await self._redis.connection_pool.release(connection)


async def _reply(connection: Any) -> Any:
    """One command's reply; an error reply is returned, as a pipeline would hand it back."""
    try:
        return await connection.read_response()
    except ResponseError as exc:
        return exc
