"""Idempotency keys: a retried request runs once and gets the first answer back verbatim."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from corral.errors import Conflict, InvalidRequest
from corral.metering.idempotency_store import (
    AnswerLimits,
    IdempotencyStore,
    StoredResponse,
    request_hash,
)
from corral.metering.leases import ProcessLease
from corral.storage import Database
from corral.storage.tables import IdempotencyRecord

BODY = b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}]}'
DIGEST = request_hash("POST", "/v1/chat/completions", BODY)
ANSWER = StoredResponse(200, "application/json", b'{"id": "chatcmpl-1"}')


@pytest.fixture
def store(db: Database) -> IdempotencyStore:
    return IdempotencyStore(db)


def test_a_retry_after_the_answer_gets_the_same_answer(store: IdempotencyStore) -> None:
    first = store.claim("ten_a", "retry-1", DIGEST)
    store.complete("ten_a", "retry-1", ANSWER)

    retry = store.claim("ten_a", "retry-1", DIGEST)

    assert first is None  # the first request runs
    assert retry == ANSWER


def test_reusing_a_key_for_a_different_request_is_refused(store: IdempotencyStore) -> None:
    store.claim("ten_a", "retry-1", DIGEST)
    store.complete("ten_a", "retry-1", ANSWER)
    other = request_hash("POST", "/v1/chat/completions", BODY.replace(b"hi", b"bye"))

    with pytest.raises(InvalidRequest) as refused:
        store.claim("ten_a", "retry-1", other)

    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.param == "Idempotency-Key"


def test_a_retry_while_the_first_still_runs_is_a_conflict(store: IdempotencyStore) -> None:
    store.claim("ten_a", "retry-1", DIGEST)

    with pytest.raises(Conflict) as refused:
        store.claim("ten_a", "retry-1", DIGEST)

    assert refused.value.status_code == 409
    assert refused.value.code == "idempotency_key_in_use"


def test_a_request_that_failed_without_an_answer_frees_its_key(store: IdempotencyStore) -> None:
    store.claim("ten_a", "retry-1", DIGEST)

    store.release("ten_a", "retry-1")

    assert store.claim("ten_a", "retry-1", DIGEST) is None


def test_a_released_answer_stays_stored(store: IdempotencyStore) -> None:
    store.claim("ten_a", "retry-1", DIGEST)
    store.complete("ten_a", "retry-1", ANSWER)

    store.release("ten_a", "retry-1")  # only a running claim is given back

    assert store.claim("ten_a", "retry-1", DIGEST) == ANSWER


def test_keys_belong_to_their_tenant(store: IdempotencyStore) -> None:
    store.claim("ten_a", "retry-1", DIGEST)

    assert store.claim("ten_b", "retry-1", DIGEST) is None


def test_the_claim_of_a_process_killed_is_free_once_its_lease_expired(db: Database) -> None:
    killed = ProcessLease(db, ttl_s=0.2)
    IdempotencyStore(db, lease=killed).claim("ten_a", "retry-1", DIGEST)
    survivor = IdempotencyStore(db, lease=ProcessLease(db))
    with pytest.raises(Conflict):  # its process is alive: the request may still be running
        survivor.claim("ten_a", "retry-1", DIGEST)

    time.sleep(0.3)  # killed -9: nobody renews its lease any more

    assert survivor.claim("ten_a", "retry-1", DIGEST) is None


def test_a_live_process_keeps_its_claims_and_the_sweep_frees_a_dead_ones(db: Database) -> None:
    alive, dead = ProcessLease(db, ttl_s=60), ProcessLease(db, ttl_s=0.2)
    IdempotencyStore(db, lease=alive).claim("ten_a", "alive", DIGEST)
    IdempotencyStore(db, lease=dead).claim("ten_a", "dead", DIGEST)
    time.sleep(0.3)

    IdempotencyStore(db).sweep_expired()

    with db.read() as session:
        left = session.scalars(select(IdempotencyRecord.key)).all()
    assert left == ["alive"]


def test_a_claim_left_by_a_crashed_process_can_be_taken_over(db: Database) -> None:
    crashed = IdempotencyStore(db, claim_timeout_s=0)  # its claim expires at once
    crashed.claim("ten_a", "retry-1", DIGEST)

    taken_over = IdempotencyStore(db).claim("ten_a", "retry-1", DIGEST)

    assert taken_over is None


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_must_be_1_to_255_characters(store: IdempotencyStore, key: str) -> None:
    with pytest.raises(InvalidRequest, match="1 to 255 characters"):
        store.claim("ten_a", key, DIGEST)


def answer_of(size: int) -> StoredResponse:
    return StoredResponse(200, "application/json", b"x" * size)


def test_an_answer_over_the_size_limit_is_not_kept(db: Database) -> None:
    store = IdempotencyStore(db, limits=AnswerLimits(per_answer=1000, per_owner=10_000))
    store.claim("ten_a", "big", DIGEST)

    kept = store.complete("ten_a", "big", answer_of(1001))

    assert kept is False
    with pytest.raises(Conflict) as retry:
        store.claim("ten_a", "big", DIGEST)
    assert retry.value.code == "idempotency_answer_not_stored"
    assert "1000 bytes each" in retry.value.message


def test_a_tenant_out_of_room_keeps_no_more_answers_and_others_keep_theirs(db: Database) -> None:
    store = IdempotencyStore(db, limits=AnswerLimits(per_answer=1000, per_owner=2500))
    for key in ("one", "two", "three"):
        store.claim("ten_a", key, DIGEST)
    store.claim("ten_b", "one", DIGEST)

    kept = [store.complete("ten_a", key, answer_of(1000)) for key in ("one", "two", "three")]
    other = store.complete("ten_b", "one", answer_of(1000))

    assert kept == [True, True, False]
    assert store.claim("ten_a", "two", DIGEST) == answer_of(1000)
    assert other is True
