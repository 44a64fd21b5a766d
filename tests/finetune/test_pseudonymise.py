"""Personal data is taken out of training examples before a job trains on them: names, emails
and phone numbers become typed placeholders, the same value the same placeholder across the
turns of one conversation, and the counts per category are reported. The examples are
hand-written for this test (realistic support conversations, invented people)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corral.finetune.data import tokenise, training_sequences
from corral.finetune.pseudonymise import describe, pseudonymise
from tests.finetune.conftest import jsonl

SUPPORT = [
    {
        "messages": [
            {"role": "system", "content": "You are the support desk of a bicycle shop."},
            {
                "role": "user",
                "content": "Hi, this is Margaret Thompson. My order never arrived; you can "
                "reach me at margaret.thompson@example.org or on +44 20 7946 0958.",
            },
            {
                "role": "assistant",
                "content": "Sorry to hear that, Margaret. I have sent the tracking link to "
                "margaret.thompson@example.org and will call +44 20 7946 0958 tomorrow.",
            },
        ]
    },
    {
        "messages": [
            {
                "role": "user",
                "content": "Please send the invoice to Jean-Pierre Dubois, "
                "jp.dubois@velo-atelier.fr, phone 06 12 34 56 78.",
            },
            {"role": "assistant", "content": "Done: the invoice is on its way to Jean-Pierre."},
        ]
    },
]
VALUES = (
    "Margaret",
    "Thompson",
    "margaret.thompson@example.org",
    "7946 0958",
    "Jean-Pierre",
    "Dubois",
    "jp.dubois@velo-atelier.fr",
    "06 12 34 56 78",
)


def all_text(examples: list[dict[str, Any]]) -> str:
    return "\n".join(m["content"] for e in examples for m in e["messages"])


def test_names_emails_and_phones_become_placeholders_consistently() -> None:
    masked, counts = pseudonymise(SUPPORT)

    text = all_text(masked)
    for value in VALUES:
        assert value not in text
    user, assistant = (m["content"] for m in masked[0]["messages"][1:])
    assert "[EMAIL_1]" in user and "[EMAIL_1]" in assistant  # one value, one placeholder
    assert "[PHONE_1]" in user and "[PHONE_1]" in assistant
    assert "[PERSON_" in assistant  # "Margaret" alone, found from the full name
    assert masked[0]["messages"][0] == SUPPORT[0]["messages"][0]  # nothing personal: as is
    assert {"PERSON", "EMAIL", "PHONE"} <= set(counts)
    assert counts["EMAIL"] == 3
    assert describe(counts).startswith("EMAIL 3")
    assert "margaret" in all_text(SUPPORT).lower()  # the caller's examples are untouched


def test_a_file_is_trained_on_pseudonymised_only_when_asked(
    tmp_path: Path, tiny_base: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(SUPPORT))
    plain, none = training_sequences(path, tokenizer, 2048)
    masked, replaced = training_sequences(path, tokenizer, 2048, pseudonymize=True)

    examples, counts = pseudonymise(SUPPORT)
    assert masked == [tokenise(example, tokenizer, 2048) for example in examples]
    assert plain == [tokenise(example, tokenizer, 2048) for example in SUPPORT] != masked
    assert (none, replaced) == (None, counts)
