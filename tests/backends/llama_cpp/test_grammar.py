"""Schemas to grammars on the real model: what used to kill the process is a grammar or a 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import pytest
from llama_cpp.llama_grammar import LlamaGrammar

from corral.backends.base import SamplingParams, TextDelta, UsageMeter
from corral.backends.llama_cpp import engine
from corral.backends.llama_cpp.grammar import (
    GrammarCache,
    GrammarCompiler,
    check_grammar_text,
    grammar_nesting,
    llama_cpp_accepts,
)
from corral.backends.schema_limits import SchemaLimits
from corral.cancellation import Cancellation
from corral.errors import InvalidRequest, SchemaLimitExceeded


@pytest.fixture(scope="module")
def llama(model_path: Path) -> Iterator[llama_cpp.Llama]:
    model = llama_cpp.Llama(str(model_path), n_ctx=256, verbose=False)
    yield model
    model.close()


@pytest.fixture
def compiler(llama: llama_cpp.Llama) -> GrammarCompiler:
    return GrammarCompiler(SchemaLimits(), lambda: llama)


def answer(llama: llama_cpp.Llama, compiler: GrammarCompiler, schema: Any, tokens: int) -> str:
    grammar = compiler.compile(schema, tokens)
    prompt = llama.tokenize(b"Write something.", add_bos=True, special=False)
    pieces: list[TextDelta] = []
    params = SamplingParams(max_tokens=tokens, temperature=0)
    engine.generate(llama, prompt, params, grammar, Cancellation(), pieces.append, UsageMeter())
    return "".join(p.text for p in pieces)


def test_the_sixty_byte_schema_that_crashed_the_server_now_answers(
    llama: llama_cpp.Llama, compiler: GrammarCompiler
) -> None:
    # maxLength 20000 was 20,000 nested groups: llama.cpp refused them and the NULL sampler
    # llama-cpp-python kept killed the process at the first token.
    text = answer(llama, compiler, {"type": "string", "maxLength": 20000}, 8)

    assert text.startswith('"')


def test_a_bound_compiled_as_the_largest_allowed_still_yields_valid_json(
    llama: llama_cpp.Llama, compiler: GrammarCompiler
) -> None:
    schema = {"type": "array", "maxItems": 20000, "items": {"type": "integer"}}

    text = answer(llama, compiler, schema, 60)

    assert text.startswith("[")


def test_a_schema_that_cannot_fit_max_tokens_is_refused_before_compiling(
    compiler: GrammarCompiler,
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        compiler.compile({"type": "string", "minLength": 10_000_000}, 1)

    assert caught.value.param == "response_format"
    assert "10000002 bytes" in caught.value.message
    assert "max_tokens" in caught.value.message
    assert len(compiler._cache) == 0


def test_a_grammar_too_large_is_refused(compiler: GrammarCompiler) -> None:
    wide = {f"p{i}": {"type": "string", "minLength": 500} for i in range(250)}
    schema = {"type": "object", "properties": wide, "required": list(wide)}

    with pytest.raises(SchemaLimitExceeded, match="compiles to a grammar of"):
        compiler.compile(schema, 100_000)


def test_llama_cpp_refusing_a_grammar_is_an_answer_not_a_crash(llama: llama_cpp.Llama) -> None:
    nested = "root ::= " + '("a" ' * 1500 + ")?" * 1500 + "\n"

    assert not llama_cpp_accepts(llama, nested)
    assert llama_cpp_accepts(llama, 'root ::= "a"\n')


def test_grammar_nesting_is_checked_before_llama_cpp_parses_it() -> None:
    deep = "root ::= " + '("a" ' * 20000 + ")?" * 20000 + "\n"  # overflows llama.cpp's stack

    with pytest.raises(SchemaLimitExceeded, match="nested 20000 levels"):
        check_grammar_text(deep, SchemaLimits(max_grammar_bytes=1024 * 1024))


def test_nesting_ignores_parentheses_in_literals_and_character_sets() -> None:
    assert grammar_nesting(r'root ::= "((\"(" [()\]] ("a" ("b")?)?') == 2


def test_the_same_schema_is_compiled_once(compiler: GrammarCompiler) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 30}}}

    first = compiler.compile(schema, 50)

    assert compiler.compile(json.loads(json.dumps(schema)), 50) is first


def test_the_cache_keeps_no_more_bytes_than_its_budget(llama: llama_cpp.Llama) -> None:
    compiler = GrammarCompiler(SchemaLimits(grammar_cache_bytes=20_000), lambda: llama)

    for length in range(100, 160):
        compiler.compile({"type": "string", "maxLength": length}, 500)

    cache = compiler._cache
    assert 0 < cache.bytes <= 20_000
    assert len(cache) < 60


def test_a_grammar_larger_than_the_cache_is_not_kept() -> None:
    cache = GrammarCache(max_bytes=10)
    grammar = LlamaGrammar.from_string('root ::= "a long grammar"\n', verbose=False)

    cache.put("k", grammar)

    assert cache.get("k") is None and cache.bytes == 0


def test_strings_never_hold_a_raw_control_character(
    llama: llama_cpp.Llama, compiler: GrammarCompiler
) -> None:
    # A long free string invites the model's newlines; JSON allows them only escaped.
    schema = {
        "type": "object",
        "properties": {"story": {"type": "string", "maxLength": 300}},
        "required": ["story"],
    }
    grammar_text = compiler.compile(schema, 200)._grammar

    assert 'char ::= [^"\\\\] |' not in grammar_text
    text = answer(llama, compiler, schema, 200)
    assert not any(ord(c) < 0x20 for c in text.removesuffix("\n"))
