"""JSON-schema validation for the `json_schema` grader, with a time limit on a tenant's regular
expressions.

A schema's `pattern`, `patternProperties` and `propertyNames` patterns run with Python's `re`,
which backtracks: `^(a+)+$` on forty `a`s and a `b` takes longer than the age of the universe,
and `re` cannot be interrupted (not by a thread, and it holds the GIL). So a schema holding a
pattern is validated in a child process, which is killed when it has not answered within
`PATTERN_LIMIT_S`: the item is graded as failed (`PatternTimeout`), the next one gets a new
child. A schema without patterns is validated in the process (no child, no round trip).
"""

from __future__ import annotations

import functools
import multiprocessing
import re
import threading
from multiprocessing.connection import Connection
from typing import Any

PATTERN_LIMIT_S = 2.0
"""How long one answer's validation may take once its schema holds a regular expression."""
_PATTERN_KEYS = ("pattern", "patternProperties")


class PatternTimeout(Exception):
    """The schema's regular expressions did not finish on the answer within the limit."""


class UnusableSchema(Exception):
    """The schema cannot be used on an answer (a `$ref` to another document, too deep)."""


def has_patterns(schema: Any) -> bool:
    """Whether `schema` holds a regular expression anywhere (in `$defs` and subschemas too)."""
    if isinstance(schema, dict):
        if any(key in schema for key in _PATTERN_KEYS):
            return True
        return any(has_patterns(value) for value in schema.values())
    if isinstance(schema, list):
        return any(has_patterns(value) for value in schema)
    return False


def validator(schema: Any) -> Any:
    """A validator for `schema` (its `$schema`'s draft, 2020-12 when it names none); None when
    it is not a schema."""
    from jsonschema import Draft202012Validator, SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict):
        return None
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None
    return cls(schema)


def first_error(schema: dict[str, Any], answer: Any) -> str | None:
    """Where `answer` breaks `schema` (`age: -1 is less than the minimum of 0`); None when it
    is valid. Unbounded: for schemas without patterns, or inside the child."""
    # A `$ref` to another document is not fetched (no network at run time): the item's
    # grading fails instead of passing.
    from referencing.exceptions import Unresolvable

    checker = validator(schema)
    if checker is None:
        raise UnusableSchema("not a valid JSON schema")
    try:
        error = next(iter(checker.iter_errors(answer)), None)
    except (Unresolvable, RecursionError, re.error) as exc:
        raise UnusableSchema(type(exc).__name__) from None
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def bounded_first_error(schema: dict[str, Any], answer: Any) -> str | None:
    """`first_error`, within `PATTERN_LIMIT_S` when the schema holds a pattern. Blocking (call
    it in a thread): it waits for the child."""
    if not has_patterns(schema):
        return first_error(schema, answer)
    return _child().first_error(schema, answer)


class _PatternChild:
    """One child process that validates answers, one at a time, killed when it overruns."""

    def __init__(self, limit_s: float) -> None:
        self._limit = limit_s
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    def first_error(self, schema: dict[str, Any], answer: Any) -> str | None:
        with self._lock:
            conn = self._started()
            conn.send((schema, answer))
            if not conn.poll(self._limit):
                self._kill()
                raise PatternTimeout(
                    f"the schema's regular expressions ran longer than {self._limit:g} s "
                    "on this answer"
                )
            kind, value = conn.recv()
        if kind == "unusable":
            raise UnusableSchema(value)
        return value  # type: ignore[no-any-return]

    def _started(self) -> Connection:
        if self._conn is None or not self._process.is_alive():
            # `spawn`: a fork of a server with threads and an event loop could inherit held locks.
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            self._process = context.Process(target=_serve, args=(theirs,), daemon=True)
            self._process.start()
            theirs.close()
            self._conn = ours
        return self._conn

    def _kill(self) -> None:
        self._process.kill()
        self._process.join(5)
        assert self._conn is not None
        self._conn.close()
        self._conn = None


@functools.cache
def _child() -> _PatternChild:
    # One child per process, shared by every run's graders: a process-wide resource, like a
    # connection pool, made on the first schema that needs it.
    return _PatternChild(PATTERN_LIMIT_S)


def _serve(conn: Connection) -> None:
    """The child's loop: validate what arrives until the parent closes the pipe or dies."""
    while True:
        try:
            schema, answer = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", first_error(schema, answer)))
        except UnusableSchema as exc:
            conn.send(("unusable", str(exc)))
        except Exception as exc:  # whatever else a schema may provoke ends its item, not us
            conn.send(("unusable", type(exc).__name__))
