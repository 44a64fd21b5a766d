"""The quote counts with llama.cpp's reading of the served GGUF, the job trains with
transformers' reading of its float copy: the two give the same tokens, the same targets and so
the same count, on plain, multilingual, code and over-long examples; and quoting in a server
process never loads transformers or torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

from corral.errors import InvalidRequest
from corral.finetune.data import planned_tokens, tokenise, training_sequences
from corral.finetune.quote import MAX_TOKENS, Quotes
from corral.finetune.vocab import GgufTokenizer, GgufTokenizers
from corral.settings import EMBEDDED_MODEL_NAME, Settings, load_settings
from tests.finetune.conftest import EXAMPLES, jsonl

CODE = '''def mean(xs: list[float]) -> float:
    """The arithmetic mean; 0.0 for []."""
    return sum(xs) / len(xs) if xs else 0.0\n\n\tprint(mean([1, 2, 3]))  # 2.0 {"a": [1]}'''
HAND_WRITTEN: list[dict[str, Any]] = [
    {
        "messages": [
            {"role": "system", "content": "Antworte höflich, auf Deutsch."},
            {"role": "user", "content": "Grüße! Wie lange hält der Wasserkocher? Über 2 Jahre?"},
            {"role": "assistant", "content": "Gerne: zwei Jahre Garantie. Schöne Grüße, Jörg ß"},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Réponds avec des emoji 🎉 s'il te plaît 👩‍👩‍👧"},
            {"role": "assistant", "content": "Bien sûr ! 🤖✨ 日本語も: こんにちは、世界。"},
            {"role": "user", "content": [{"type": "text", "text": "Encore\u00a0une\u200bfois"}]},
            {"role": "assistant", "content": "D'accord 👍", "weight": 0},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Write mean() in Python.\r\n"},
            {"role": "assistant", "content": CODE},
        ]
    },
    {  # a user who types the template's own markers
        "messages": [
            {"role": "user", "content": "what is <|im_end|>\n<|im_start|>assistant ?"},
            {"role": "assistant", "content": "  Two markers,   spaced.  "},
        ]
    },
    {  # long turns: cut inside the second assistant answer
        "messages": [
            {"role": "user", "content": "Zähle bis 400. " * 40},
            {"role": "assistant", "content": " ".join(str(n) for n in range(400))},
            {"role": "user", "content": "Und rückwärts, mit Emoji 🔢"},
            {"role": "assistant", "content": " ".join(f"{n}🔢" for n in range(400, 0, -1))},
        ]
    },
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(home=tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def training_tokenizer(embedded_float_copy: Path) -> Any:
    """What the job tokenises with (`FineTuningHandler._sequences`)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_float_copy))


@pytest.mark.parametrize("example", [*EXAMPLES, *HAND_WRITTEN])
def test_the_quote_tokenises_each_example_as_the_training_does(
    settings: Settings, training_tokenizer: Any, example: dict[str, Any]
) -> None:
    quoted = tokenise(example, GgufTokenizers(settings)(EMBEDDED_MODEL_NAME), MAX_TOKENS)
    trained = tokenise(example, training_tokenizer, MAX_TOKENS)
    assert quoted == trained
    assert quoted.trained_tokens > 0


def test_a_file_of_long_examples_is_quoted_what_the_job_will_train(
    settings: Settings, training_tokenizer: Any, tmp_path: Path
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl([*EXAMPLES, *HAND_WRITTEN]))
    quotes = Quotes(bill=None, tokenizers=GgufTokenizers(settings))  # type: ignore[arg-type]
    trained, _ = training_sequences(path, training_tokenizer, MAX_TOKENS)
    assert max(len(sequence.input_ids) for sequence in trained) == MAX_TOKENS  # one was cut
    assert quotes.count(EMBEDDED_MODEL_NAME, path, 3, False) == planned_tokens(trained, 3)


def test_a_model_that_is_not_served_here_cannot_be_quoted(settings: Settings) -> None:
    with pytest.raises(InvalidRequest) as refused:
        GgufTokenizers(settings)("no-such-model")
    assert refused.value.code == "model_not_available"


SERVER_QUOTE = """
    import asyncio, json, sys
    from pathlib import Path

    import corral.api.app, corral.services  # the server's modules, as `corral serve` has them
    from corral.accounts.admin import AccountsAdmin
    from corral.accounts.keys import key_hasher
    from corral.finetune.quote import training_quotes
    from corral.metering.ledger import Ledger
    from corral.settings import EMBEDDED_MODEL_NAME, load_settings
    from corral.storage import open_database

    home, training = Path(sys.argv[1]), Path(sys.argv[2])
    settings = load_settings(
        home=home,
        database_url=f"sqlite:///{home / 'corral.db'}",
        finetuning={"training_price_per_mtok": "2.5"},
    )
    db = open_database(settings)
    owner = AccountsAdmin(db, key_hasher(home, None)).create_tenant("acme", budget_micros=10**9).id
    quotes = training_quotes(settings, Ledger(db), db)
    quote = asyncio.run(quotes.hold("ftjob-1", owner, EMBEDDED_MODEL_NAME, training, 3, False))
    loaded = [name for name in ("transformers", "torch") if name in sys.modules]
    print(json.dumps({"quote": quote, "loaded": loaded}))
"""


def test_quoting_in_the_server_loads_neither_transformers_nor_torch(tmp_path: Path) -> None:
    training = tmp_path / "train.jsonl"
    training.write_bytes(jsonl(EXAMPLES))
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SERVER_QUOTE), str(home), str(training)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["quote"]["tokens"] > 0
    assert found["loaded"] == []


class _Vocab:
    """Just what `GgufTokenizer` reads of a llama.cpp vocabulary, with a template that refuses
    roles that do not alternate (as Mistral's does)."""

    metadata: ClassVar[dict[str, str]] = {
        "tokenizer.chat_template": (
            "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            "{{ raise_exception('Conversation roles must alternate user/assistant') }}"
            "{% endif %}{{ m['content'] }}{% endfor %}"
        )
    }

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        return list(text)


def test_an_example_the_base_template_refuses_is_a_bad_file_not_a_crash() -> None:
    tokenizer = GgufTokenizer(_Vocab())
    example = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    with pytest.raises(InvalidRequest, match="roles must alternate") as refused:
        tokenise(example, tokenizer, MAX_TOKENS)
    assert refused.value.code == "invalid_file"
