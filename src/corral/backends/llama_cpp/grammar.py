"""JSON schema -> llama.cpp grammar, behind the checks that keep a hostile schema harmless.

Why each step exists (issue 28): llama-cpp-python expands every bound into the grammar's text
(`maxLength: 20000` is 20,000 nested optional groups; `minLength: 10000000` a 50 MB rule), and
llama.cpp's parser recurses once per nesting level. Past ~1,100 levels llama.cpp refuses the
grammar, and llama-cpp-python then puts a NULL sampler in its chain: the first token
dereferences it and the process dies (SIGSEGV). Past ~14,000 the parser itself overflows the C
stack. So a grammar is built only from a schema within `SchemaLimits`, its text is checked for
size and nesting, and it is parsed once here by llama.cpp: a grammar llama.cpp refuses is a 400,
never a sampler. Compiled grammars are cached by schema hash, bounded by their bytes.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

from corral.backends.schema_keywords import refuse_unenforced
from corral.backends.schema_limits import (
    SchemaLimits,
    bounded,
    check_structure,
    minimum_output_bytes,
    refuse,
)
from corral.errors import InvalidRequest


class GrammarCompiler:
    """Compiles schemas for one model; safe to call from several threads at once."""

    def __init__(self, limits: SchemaLimits, model: Callable[[], llama_cpp.Llama]) -> None:
        self.limits = limits
        self._model = model  # the model whose vocabulary llama.cpp checks a grammar against
        self._cache = GrammarCache(limits.grammar_cache_bytes)
        self._longest_token: int | None = None

    def compile(
        self, schema: dict[str, Any], room_tokens: int, strict: bool = False
    ) -> LlamaGrammar:
        """The grammar for `schema`, for an answer of at most `room_tokens` tokens; a `strict`
        schema using a keyword the grammar cannot hold is a 400."""
        check_structure(schema, self.limits)
        self._check_fits(schema, room_tokens)
        compiled = bounded(schema, self.limits)
        if strict:
            refuse_unenforced(compiled)
        # Keys in the order given: the grammar writes properties in that order, and a schema
        # that puts "reasoning" before "answer" means it.
        text = json.dumps(compiled)
        key = hashlib.sha256(text.encode()).hexdigest()
        grammar = self._cache.get(key)
        if grammar is None:
            grammar = self._build(text)
            self._cache.put(key, grammar)
        return grammar

    def _check_fits(self, schema: dict[str, Any], room_tokens: int) -> None:
        needed = minimum_output_bytes(schema)
        most = room_tokens * self._longest_token_bytes()
        if needed > most:
            raise refuse(
                f"response_format: the shortest answer this JSON schema allows is {needed} "
                f"bytes, more than {room_tokens} token(s) can hold. Lower the schema's minimum "
                "lengths or counts, or raise max_tokens."
            )

    def _longest_token_bytes(self) -> int:
        if self._longest_token is None:
            self._longest_token = longest_token_bytes(self._model())
        return self._longest_token

    def _build(self, schema_json: str) -> LlamaGrammar:
        try:
            text = json_schema_to_gbnf(schema_json) if schema_json != "{}" else JSON_GBNF
            text = without_control_characters(text)
        except Exception as exc:  # the GBNF converter raises assorted types on unsupported schemas
            raise InvalidRequest(
                f"response_format: this JSON schema cannot be enforced: {exc}",
                param="response_format",
            ) from None
        check_grammar_text(text, self.limits)
        if not llama_cpp_accepts(self._model(), text):
            raise refuse(
                "response_format: this JSON schema compiles to a grammar the local model cannot "
                "use (too many nested or repeated parts). Simplify the schema."
            )
        return LlamaGrammar.from_string(text, verbose=False)


_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def without_control_characters(text: str) -> str:
    """The converter's string characters exclude what JSON forbids unescaped (U+0000-U+001F):
    it admits a raw newline inside a string, which no JSON parser reads back."""
    return text.replace(_LOOSE_CHAR, _JSON_CHAR)


class GrammarCache:
    """Least recently used grammars, bounded by the bytes of their text."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, LlamaGrammar] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> LlamaGrammar | None:
        with self._lock:
            grammar = self._entries.get(key)
            if grammar is not None:
                self._entries.move_to_end(key)
            return grammar

    def put(self, key: str, grammar: LlamaGrammar) -> None:
        size = _size(grammar)
        with self._lock:
            if key in self._entries or size > self.max_bytes:
                return
            self._entries[key] = grammar
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= _size(evicted)


def check_grammar_text(text: str, limits: SchemaLimits) -> None:
    """Refuse a grammar too large, or nested too deep for llama.cpp's recursive parser."""
    if len(text) > limits.max_grammar_bytes:
        raise refuse(
            f"response_format: this JSON schema compiles to a grammar of {len(text)} bytes; at "
            f"most {limits.max_grammar_bytes} are allowed. Lower its lengths, counts or size."
        )
    depth = grammar_nesting(text)
    if depth > limits.max_grammar_nesting:
        raise refuse(
            f"response_format: this JSON schema compiles to a grammar nested {depth} levels "
            f"deep; at most {limits.max_grammar_nesting} are allowed."
        )


def grammar_nesting(text: str) -> int:
    """The deepest parenthesis nesting in GBNF `text`, outside literals and character sets."""
    depth = deepest = 0
    closing: str | None = None  # '"' inside a literal, ']' inside a character set
    escaped = False
    for char in text:
        if closing is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == closing:
                closing = None
        elif char == '"':
            closing = '"'
        elif char == "[":
            closing = "]"
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def llama_cpp_accepts(model: llama_cpp.Llama, text: str) -> bool:
    """Parse `text` with llama.cpp once: NULL means it refused (and logged why)."""
    vocab = llama_cpp.llama_model_get_vocab(model.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def longest_token_bytes(model: llama_cpp.Llama) -> int:
    """The most bytes one token of the model's vocabulary writes (for what can fit)."""
    vocab = llama_cpp.llama_model_get_vocab(model.model)
    buffer = ctypes.create_string_buffer(256)
    longest = 1
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        written = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
        longest = max(longest, abs(written))  # negative: the piece needs that many bytes
    return longest


def _size(grammar: LlamaGrammar) -> int:
    return len(grammar._grammar)
