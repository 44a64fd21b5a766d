"""A base model's tokenizer as llama.cpp reads it from the served GGUF (the vocabulary only, no
weights, a tenth of a second): what a job's quote counts with in the server, where transformers
and torch are never loaded.

It stands in for the training tokenizer in `corral.finetune.data.tokenise` and gives the same
tokens: the GGUF's chat template rendered as transformers renders it (a sandboxed jinja2 with
the same options, globals and special-token names), the text tokenised with its special tokens
parsed and no BOS added, as `tokenizer(text, add_special_tokens=False)` does. Both read the
same vocabulary, merges and pre-tokenizer type from the GGUF; tests/finetune/test_vocab.py
compares them example by example.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from corral.errors import InvalidRequest
from corral.finetune.params import trainable_bases
from corral.settings import Settings

_SPECIALS = {"bos_token": "bos", "eos_token": "eos", "unk_token": "unknown", "pad_token": "padding"}
"""The special tokens transformers passes to a chat template, by their GGUF id's key."""


class GgufTokenizer:
    """The `apply_chat_template` and `__call__` of a transformers tokenizer, on a llama.cpp
    vocabulary (`llama_cpp.Llama(vocab_only=True)`)."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        meta: dict[str, str] = vocab.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise InvalidRequest(
                "The base model has no chat template; it cannot be fine-tuned on chat examples.",
                code="unsupported_model",
            )
        self._template = _compiled(template)
        self._specials = {}
        for name, key in _SPECIALS.items():
            token_id = meta.get(f"tokenizer.ggml.{key}_token_id", "")
            if token_id.isdigit():
                self._specials[name] = vocab._model.token_get_text(int(token_id))

    def apply_chat_template(
        self, messages: list[dict[str, Any]], *, tokenize: bool = False, add_generation_prompt: bool
    ) -> str:
        import jinja2

        assert not tokenize, "renders only; __call__ tokenises"
        try:
            text: str = self._template.render(
                messages=messages,
                tools=None,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **self._specials,
            )
        except jinja2.TemplateError as exc:  # e.g. roles that do not alternate
            raise InvalidRequest(
                f"The base model's chat template refuses an example: {exc}", code="invalid_file"
            ) from None
        return text

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        assert not add_special_tokens, "the chat template writes the special tokens"
        if not text:
            return {"input_ids": []}
        ids = self._vocab.tokenize(text.encode(), add_bos=False, special=True)
        return {"input_ids": list(ids)}


class GgufTokenizers:
    """Each trainable base's `GgufTokenizer`, read once per process from its served GGUF."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loaded: dict[str, GgufTokenizer] = {}
        self._lock = threading.Lock()

    def __call__(self, model: str) -> GgufTokenizer:
        with self._lock:
            if model not in self._loaded:
                self._loaded[model] = GgufTokenizer(self._open(model))
            return self._loaded[model]

    def _open(self, model: str) -> Any:
        gguf = trainable_bases(self._settings).get(model)
        if gguf is None or not gguf.is_file():
            raise InvalidRequest(
                f"The model '{model}' cannot be fine-tuned here.",
                param="model",
                code="model_not_available",
            )
        from corral.backends.llama_cpp.loader import open_vocab

        return open_vocab(gguf)


@cache
def _compiled(template: str) -> Any:
    """The template in transformers' environment (`_compile_jinja_template`): trim_blocks and
    lstrip_blocks, loop controls, a `{% generation %}` tag that renders its body, and its
    `tojson` (no HTML escaping, non-ASCII kept), `raise_exception` and `strftime_now`."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        tags = {"generation"}  # noqa: RUF012 (jinja reads it as a set)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(
                lineno
            )

        def _body(self, caller: Callable[[], str]) -> str:
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            value,
            ensure_ascii=ensure_ascii,
            indent=indent,
            separators=separators,
            sort_keys=sort_keys,
        )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: dt.datetime.now().strftime(fmt)
    return env.from_string(template)
