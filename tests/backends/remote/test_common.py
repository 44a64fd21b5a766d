"""What every remote backend shares: reading Retry-After, keeping the key out of messages,
and estimating tokens the provider did not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from corral.backends.base import UsageMeter
from corral.backends.remote.common import meter_text, redact_key, retry_after_s
from corral.backends.token_estimates import estimate_tokens, high_token_estimate


def test_retry_after_reads_seconds_milliseconds_and_http_dates() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    assert retry_after_s({"retry-after": "2.5"}) == 2.5
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 28 < (retry_after_s({"retry-after": later}) or 0) <= 30
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({"retry-after": "-3"}) == 0
    assert retry_after_s({}) is None


def test_retry_after_is_found_however_the_header_is_spelt() -> None:
    assert retry_after_s({"Retry-After": "4"}) == 4
    assert retry_after_s(httpx.Headers({"RETRY-AFTER": "5"})) == 5


def test_the_key_is_redacted_wherever_a_provider_echoes_it() -> None:
    key = "sk-secret-0123456789"

    assert redact_key(f"bad key {key}; try {key}", key) == "bad key [redacted]; try [redacted]"


def test_a_key_too_short_to_be_real_leaves_the_text_alone() -> None:
    assert redact_key("a bad request", "a") == "a bad request"
    assert redact_key("no key here", "") == "no key here"


def test_billing_estimates_four_bytes_a_token_and_fitting_estimates_more() -> None:
    text = "x" * 40

    assert estimate_tokens(text) == 10
    assert high_token_estimate(text) == 16
    assert estimate_tokens("") == 0


def test_streamed_text_is_metered_by_the_same_estimate() -> None:
    meter = UsageMeter()

    meter_text(meter, "x" * 9)
    meter_text(meter, "y")

    assert meter.completion_tokens == estimate_tokens("x" * 9) + estimate_tokens("y") == 4
