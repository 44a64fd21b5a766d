"""A password written into a URL is never shown."""

from __future__ import annotations

from corral.observability.redact import redact, redact_all


def test_the_userinfo_of_every_url_is_masked_and_nothing_else() -> None:
    text = "at https://user:secret@api.example.com/v1 and postgresql+psycopg://root:pw@db/corral"

    assert (
        redact(text) == "at https://***@api.example.com/v1 and postgresql+psycopg://***@db/corral"
    )
    assert redact("redis://:p@ss@cache:6379/0") == "redis://***@cache:6379/0"
    assert redact("https://example.com/a@b?mail=x@y") == "https://example.com/a@b?mail=x@y"
    assert redact("write to ops@example.com") == "write to ops@example.com"


def test_every_string_of_a_configuration_is_masked() -> None:
    config = {"models": [{"base_url": "https://u:p@h/v1", "timeout_s": 5}], "home": "/x"}

    assert redact_all(config) == {
        "models": [{"base_url": "https://***@h/v1", "timeout_s": 5}],
        "home": "/x",
    }
