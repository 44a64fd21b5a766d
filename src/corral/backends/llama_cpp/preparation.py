"""Preparing a request for a local model, before it queues for an instance: the prompt templated
and tokenized, checked against the context and the vocabulary, and its JSON-schema or tool-call
grammar compiled. Runs in a worker thread; a request that cannot fit is refused at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_grammar import LlamaGrammar

from corral.backends.base import GenerationRequest
from corral.backends.llama_cpp import tools
from corral.backends.llama_cpp.grammar import GrammarCompiler
from corral.errors import ContextLengthExceeded, InvalidRequest


@dataclass(frozen=True, slots=True)
class Prepared:
    tokens: list[int]
    grammar: LlamaGrammar | None
    tool_plan: tools.ToolPlan | None = None


class Preparer:
    """`vocab` gives the model that tokenizes now (a vocabulary-only load until an instance
    is loaded, then the instance's own)."""

    def __init__(
        self,
        name: str,
        context_length: int,
        vocab: Callable[[], llama_cpp.Llama],
        formatter: Jinja2ChatFormatter | None,
        grammars: GrammarCompiler,
    ) -> None:
        self._name = name
        self._context_length = context_length
        self._vocab = vocab
        self._formatter = formatter
        self._grammars = grammars

    def prepare(self, request: GenerationRequest) -> Prepared:
        """The request's tokens and grammar, or a clear error (too long, bad ids, no template)."""
        tokens = self._tokenize(request)
        limit = self._context_length
        asked = request.params.max_tokens or 0
        if len(tokens) >= limit or len(tokens) + asked > limit:
            source = "messages" if request.messages is not None else "prompt"
            raise ContextLengthExceeded(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{len(tokens) + asked} tokens ({len(tokens)} in the {source}, {asked} for the "
                "completion). Please reduce the length of the "
                f"{source} or of max_tokens.",
                param=source,
            )
        tool_plan = tools.plan(request.params) if request.messages is not None else None
        schema = request.params.json_schema if tool_plan is None else tool_plan.schema
        room = asked or limit - len(tokens)
        grammar = None
        if schema is not None:
            strict = request.params.json_schema_strict and tool_plan is None
            param = "response_format" if tool_plan is None else "tools"
            grammar = self._compile(schema, room, param, strict)
        return Prepared(tokens, grammar, tool_plan)

    def _compile(self, schema: dict[str, Any], room: int, param: str, strict: bool) -> LlamaGrammar:
        try:
            return self._grammars.compile(schema, room, strict)
        except InvalidRequest as exc:
            if param == "response_format":
                raise
            # The same limits guard a function's schema; say which parameter broke them.
            message = exc.message.replace("response_format:", "tools:", 1)
            raise type(exc)(message.replace("JSON schema", "tool schema"), param=param) from None

    def _tokenize(self, request: GenerationRequest) -> list[int]:
        self._checked_ids(tuple(t for t, _ in request.params.logit_bias), "logit_bias")
        if request.prompt_tokens is not None:
            return self._checked_ids(request.prompt_tokens) or self._start_of_document()
        if request.messages is None:
            text = request.prompt or ""
            tokens = self._vocab().tokenize(text.encode("utf-8"), add_bos=True, special=False)
            # An empty prompt of a model that adds no BOS is no tokens at all, which llama.cpp
            # cannot decode from; like OpenAI, generate from the start of a document instead.
            return list(tokens) or self._start_of_document()
        if self._formatter is None:
            raise InvalidRequest(
                f"Model '{self._name}' has no chat template in its GGUF metadata; "
                "use /v1/completions with a prompt instead.",
                param="model",
            )
        messages: Any = tools.render(request.messages, tools.plan(request.params))
        prompt = self._formatter(messages=messages).prompt
        return list(self._vocab().tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _checked_ids(self, tokens: tuple[int, ...], where: str = "prompt") -> list[int]:
        size = self._vocab().n_vocab()
        for index, token in enumerate(tokens):
            if not 0 <= token < size:
                raise InvalidRequest(
                    f"Token id {token} at position {index} of the {where} is not in the "
                    f"vocabulary of model '{self._name}' (ids 0 to {size - 1}).",
                    param=where,
                )
        return list(tokens)

    def _start_of_document(self) -> list[int]:
        for token in (self._vocab().token_bos(), self._vocab().token_eos()):
            if token >= 0:
                return [token]
        raise InvalidRequest(
            f"Model '{self._name}' cannot start from an empty prompt; send some text.",
            param="prompt",
        )
