"""Rate limits: GCRA per key, in process memory or shared through Redis, with OpenAI's headers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio

from corral.metering.ratelimit import (
    LimitState,
    LocalRateLimiter,
    RateDecision,
    RateLimiter,
    check,
    duration,
    refuse,
    retry_after_ms,
)
from corral.metering.ratelimit_redis import RedisRateLimiter

NOW = 1_800_000_000_000.0  # any instant, in ms


def test_a_key_may_burst_its_limit_then_is_refused_until_one_interval_passes() -> None:
    tat, limit = NOW, 10  # 10 per minute: one every 6 s

    for _ in range(limit):
        allowed, tat, _ = check(tat, NOW, limit, 1)
        assert allowed

    allowed, _, state = check(tat, NOW, limit, 1)
    assert not allowed
    assert state == LimitState(limit=10, remaining=0, reset_ms=60_000)
    assert retry_after_ms(tat, NOW, limit, 1) == 6_000
    later, _, state = check(tat, NOW + 6_000, limit, 1)
    assert later
    assert state.remaining == 0


def test_remaining_and_reset_count_down_as_requests_arrive() -> None:
    _, tat, first = check(NOW, NOW, 10, 1)
    _, _, second = check(tat, NOW + 1_000, 10, 1)

    assert first == LimitState(limit=10, remaining=9, reset_ms=6_000)
    assert second == LimitState(limit=10, remaining=8, reset_ms=11_000)


def test_an_idle_key_gets_its_whole_burst_back() -> None:
    tat = NOW + 60_000  # the whole minute used up

    allowed, _, state = check(tat, NOW + 60_000, 10, 1)

    assert allowed
    assert state.remaining == 9


def test_headers_use_openais_names_and_duration_format() -> None:
    decision = RateDecision(
        allowed=True,
        requests=LimitState(limit=60, remaining=59, reset_ms=1_000),
        tokens=LimitState(limit=10_000, remaining=9_000, reset_ms=360_000),
        retry_after_ms=0,
    )

    assert decision.headers() == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "9000",
        "x-ratelimit-reset-tokens": "6m0s",
    }


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (120, "120ms"),
        (999, "999ms"),
        (1_000, "1s"),
        (1_500, "1.5s"),
        (59_999, "59.999s"),
        (60_000, "1m0s"),
        (90_500, "1m30.5s"),
        (360_000, "6m0s"),
    ],
)
def test_durations(ms: int, text: str) -> None:
    assert duration(ms) == text


def test_a_refusal_says_when_to_retry() -> None:
    decision = RateDecision(False, LimitState(10, 0, 60_000), None, retry_after_ms=5_200)

    error = refuse(decision, rpm=10, tpm=None, tokens=0)

    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert (
        error.message
        == "Rate limit reached for this key: 10 requests per minute. Try again in 6 s."
    )
    assert error.headers["Retry-After"] == "6"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_request_larger_than_the_token_limit_is_told_to_shrink_not_to_wait() -> None:
    decision = RateDecision(False, None, LimitState(1_000, 1_000, 0), retry_after_ms=600)

    error = refuse(decision, rpm=None, tpm=1_000, tokens=1_200)

    assert "Lower max_tokens or shorten the prompt" in error.message
    assert "Retry-After" not in error.headers


@asynccontextmanager
async def limiter_of(kind: str, redis_url: tuple[str, str]) -> AsyncIterator[RateLimiter]:
    if kind == "local":
        yield LocalRateLimiter()
        return
    url, namespace = redis_url
    client = redis.asyncio.from_url(url)
    try:
        yield RedisRateLimiter(client, f"{namespace}:rl")
    finally:
        await client.aclose()


def new_key() -> str:
    return f"key_{secrets.token_hex(6)}"


Seen = tuple[bool, int | None, int | None]


def seen(decision: RateDecision) -> Seen:
    """What a client learns from a decision: allowed, requests and tokens remaining."""
    requests = decision.requests.remaining if decision.requests else None
    tokens = decision.tokens.remaining if decision.tokens else None
    return decision.allowed, requests, tokens


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_both_limiters_answer_the_same_script_the_same_way(
    kind: str, redis_url: tuple[str, str]
) -> None:
    key = new_key()
    async with limiter_of(kind, redis_url) as limiter:

        async def admit(tokens: int) -> RateDecision:
            return await limiter.admit(key, 3, 100, tokens)

        script = [await admit(40), await admit(40), await admit(20)]
        out_of_requests = await admit(0)
        await limiter.adjust_tokens(key, 100, -50)
        after_adjusting = await admit(0)
        unlimited = await limiter.admit(key, None, None, 1_000_000)

    assert [seen(d) for d in script] == [(True, 2, 60), (True, 1, 20), (True, 0, 0)]
    assert seen(out_of_requests) == (False, 0, 0)
    assert 19_000 < out_of_requests.retry_after_ms <= 20_000  # one request every 20 s
    assert seen(after_adjusting) == (False, 0, 50)
    assert seen(unlimited) == (True, None, None)
    assert unlimited.headers() == {}


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_a_refusal_by_the_token_limit_counts_and_blames_only_tokens(
    kind: str, redis_url: tuple[str, str]
) -> None:
    key = new_key()
    async with limiter_of(kind, redis_url) as limiter:
        await limiter.admit(key, 3, 100, 90)

        refused = await limiter.admit(key, 3, 100, 20)

    assert seen(refused) == (False, 2, 10)  # the refused request used none of the 3
    assert refused.requests is not None
    assert refused.requests.reset_ms <= 20_000
    assert "100 tokens per minute" in refuse(refused, rpm=3, tpm=100, tokens=20).message


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_unused_tokens_given_back_can_be_used_again(
    kind: str, redis_url: tuple[str, str]
) -> None:
    key = new_key()
    async with limiter_of(kind, redis_url) as limiter:
        assert (await limiter.admit(key, None, 100, 100)).allowed
        assert not (await limiter.admit(key, None, 100, 10)).allowed

        await limiter.adjust_tokens(key, 100, -60)  # the request used 40 of its 100

        assert (await limiter.admit(key, None, 100, 50)).allowed
        assert not (await limiter.admit(key, None, 100, 20)).allowed


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_corrections_and_checks_that_arrive_together_each_apply_to_their_own_key(
    kind: str, redis_url: tuple[str, str]
) -> None:
    first, second = new_key(), new_key()
    async with limiter_of(kind, redis_url) as limiter:
        await limiter.admit(first, None, 100, 100)
        await limiter.admit(second, 5, 100, 100)

        # One batch: a correction between two checks, on different keys and limits.
        checked_first, _, checked_second = await asyncio.gather(
            limiter.admit(first, None, 100, 30),
            limiter.adjust_tokens(second, 100, -70),
            limiter.admit(second, 5, 100, 60),
        )

    assert seen(checked_first) == (False, None, 0)
    assert seen(checked_second) == (True, 3, 10)


async def test_two_processes_sharing_redis_enforce_one_limit(redis_url: tuple[str, str]) -> None:
    url, namespace = redis_url
    clients = [redis.asyncio.from_url(url), redis.asyncio.from_url(url)]
    first, second = (RedisRateLimiter(c, f"{namespace}:rl") for c in clients)
    key = new_key()

    try:
        decisions = await asyncio.gather(
            *((first if i % 2 else second).admit(key, 10, None, 0) for i in range(20))
        )
    finally:
        for client in clients:
            await client.aclose()

    assert sum(d.allowed for d in decisions) == 10
    assert all(d.retry_after_ms > 0 for d in decisions if not d.allowed)


async def test_the_limiter_recovers_when_redis_forgets_its_scripts(
    redis_url: tuple[str, str],
) -> None:
    url, namespace = redis_url
    client = redis.asyncio.from_url(url)
    limiter = RedisRateLimiter(client, f"{namespace}:rl")
    key = new_key()
    try:
        before = await limiter.admit(key, 4, None, 0)
        await client.script_flush()  # as after a restart of Redis
        alone = await limiter.admit(key, 4, None, 0)  # a call on its own
        await client.script_flush()

        together = await asyncio.gather(*(limiter.admit(key, 4, None, 0) for _ in range(3)))
    finally:
        await client.aclose()

    assert seen(before) == (True, 3, None)
    assert seen(alone) == (True, 2, None)
    assert [seen(decision) for decision in together] == [
        (True, 1, None),
        (True, 0, None),
        (False, 0, None),
    ]


async def test_the_limiter_carries_on_when_redis_drops_its_connection(
    redis_url: tuple[str, str],
) -> None:
    url, namespace = redis_url
    name = f"limiter-{secrets.token_hex(4)}"
    client, admin = redis.asyncio.from_url(url, client_name=name), redis.asyncio.from_url(url)
    limiter = RedisRateLimiter(client, f"{namespace}:rl")
    key = new_key()
    try:
        before = await limiter.admit(key, 4, None, 0)
        dropped = [c["id"] for c in await admin.client_list() if c["name"] == name]
        for client_id in dropped:  # as when Redis restarts or a proxy cuts idle connections
            await admin.client_kill_filter(_id=client_id)

        after = await limiter.admit(key, 4, None, 0)
    finally:
        await client.aclose()
        await admin.aclose()

    assert dropped
    assert (seen(before), seen(after)) == ((True, 3, None), (True, 2, None))
