"""Per-key rate limits kept in Redis, shared by every corral process that uses the same Redis.

The algorithm is `ratelimit`'s (GCRA); here it runs as a Lua script, so one call checks and
moves both of a key's limits atomically. The calls of requests that arrive together
(`batching`) go to Redis as one run of the script: one command, one reply, one round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from corral.errors import StorageUnavailable
from corral.metering.batching import Batcher
from corral.metering.ratelimit import LimitState, RateDecision

# One call of this script runs a whole batch, atomically, at one instant: ARGV is a list of
# calls, each 'admit' (request and token limits, and their costs: checks and moves both of a
# key's limits, or neither) or 'adjust' (a token correction); KEYS holds their keys in turn.
# It returns each call's result, in order.
_BATCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function admit(keys, limits)
  local out = {}
  local allowed = 1
  local new = {}
  for i = 1, 2 do
    local limit = limits[i * 2 - 1]
    local cost = limits[i * 2]
    if limit > 0 then
      local interval = 60000 / limit
      local tat = tonumber(redis.call('GET', keys[i]) or now)
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
        redis.call('SET', keys[i], tostring(after), 'PX', math.max(1, math.ceil(after - now)))
      end
      local remaining = math.max(0, math.floor((60000 - (after - now)) / c[3]))
      local retry = math.max(0, math.ceil(c[2] - now - 60000))
      out[#out + 1] = {c[4], remaining, math.ceil(after - now), retry}
    else
      out[#out + 1] = false
    end
  end
  return {allowed, out[1], out[2]}
end

local function adjust(key, delta, limit)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tat = tat + delta * 60000 / limit
  if tat <= now then
    redis.call('DEL', key)
  else
    redis.call('SET', key, tostring(tat), 'PX', math.max(1, math.ceil(tat - now)))
  end
  return 1
end

local results = {}
local k, a = 1, 1
while a <= #ARGV do
  if ARGV[a] == 'admit' then
    local limits = {tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
                    tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])}
    results[#results + 1] = admit({KEYS[k], KEYS[k + 1]}, limits)
    k, a = k + 2, a + 5
  else
    results[#results + 1] = adjust(KEYS[k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
    k, a = k + 1, a + 3
  end
end
return results
"""
_BATCH_SHA = hashlib.sha1(_BATCH.encode()).hexdigest()


def _pack(*args: str | int) -> bytes:
    """One command in Redis's protocol (hiredis: C, unlike redis-py's asyncio packer)."""
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]  # its stub: a 1-tuple
    return packed


_LOAD_BATCH = _pack("SCRIPT", "LOAD", _BATCH)


@dataclass(slots=True)
class _ScriptCall:
    kind: Literal["admit", "adjust"]
    keys: list[str]
    args: list[int]
    outcome: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RedisRateLimiter:
    """Shared by every process using the same Redis. The calls of requests that arrive
    together are one run of the batch script (`batching`)."""

    def __init__(self, redis: Any, namespace: str = "corral:rl") -> None:
        self._redis = redis
        self._calls = Batcher(self._send)
        self._ns = namespace
        self._connection: Any = None

    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateDecision:
        keys = [f"{self._ns}:r:{key_id}", f"{self._ns}:t:{key_id}"]
        allowed, *cells = await self._calls.submit(
            _ScriptCall("admit", keys, [rpm or 0, 1, tpm or 0, tokens])
        )
        states = [LimitState(int(c[0]), int(c[1]), int(c[2])) if c else None for c in cells]
        retry = max((int(c[3]) for c in cells if c), default=0)
        return RateDecision(bool(allowed), states[0], states[1], 0 if allowed else retry)

    async def adjust_tokens(self, key_id: str, tpm: int | None, delta: int) -> None:
        if tpm is None or delta == 0:
            return
        await self._calls.submit(_ScriptCall("adjust", [f"{self._ns}:t:{key_id}"], [delta, tpm]))

    async def ping(self) -> None:
        """Returns when Redis answers (readiness); raises when it does not."""
        await self._redis.ping()

    async def _send(self, calls: list[_ScriptCall]) -> None:
        """Runs the batch as one script call; every call gets its own result."""
        keys = [key for call in calls for key in call.keys]
        args = [arg for call in calls for arg in (call.kind, *call.args)]
        packed = _pack("EVALSHA", _BATCH_SHA, len(keys), *keys, *args)
        try:
            results = await self._run(packed)
        except NoScriptError:  # Redis restarted or flushed its scripts: load it, run it again
            await self._run(_LOAD_BATCH)
            results = await self._run(packed)
        for call, result in zip(calls, results, strict=True):
            if not call.outcome.done():
                call.outcome.set_result(result)

    async def _run(self, packed: bytes) -> Any:
        """The reply to a packed command; Redis out of reach is `StorageUnavailable`."""
        try:
            try:
                return await self._round_trip(packed)
            except RedisConnectionError:  # the connection went (Redis restarted): a new one
                return await self._round_trip(packed)
        except NoScriptError:
            raise
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(f"The rate-limit store (Redis) is unavailable: {exc}") from exc

    async def _round_trip(self, packed: bytes) -> Any:
        """The script's reply, in one round trip on this limiter's own connection: the batcher
        sends one batch at a time, so one connection serves them all, without redis-py's
        per-command pool and retry layers, which cost more CPU per call than the script's round
        trip (figures: bench/results/design_figures.md)."""
        connection = self._connection
        try:
            if connection is None:
                connection = self._connection = await self._redis.connection_pool.get_connection()
            await connection.send_packed_command(packed)
            return await connection.read_response()
        except ResponseError:
            raise  # an error reply: the connection is fine
        except BaseException:  # failed or cancelled mid-way: a reply may be left unread
            await self._drop(connection)
            raise

    async def _drop(self, connection: Any) -> None:
        """Forget a connection in an unknown state; the next batch opens another."""
        if connection is not None:
            self._connection = None
            await connection.disconnect()
            await self._redis.connection_pool.release(connection)
