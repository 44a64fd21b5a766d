"""A creator's post history, read from CSV or JSON (the facts tips cite: `creator_facts`).

Input. CSV with a header row, or JSON (a list of objects, or an object with a "posts" list).
Fields: `id`, `time` (ISO 8601; without an offset it is taken as UTC), `format` (video, image,
...; lower-cased), `views`, `likes`, `comments`, `shares` (whole, non-negative) and an optional
`text`. Synonyms accepted: `post_id` for id, `published_at` for time, `type` for format (the
canonical name wins when both are present). CSV header names are matched case-insensitively;
a header with more ";" or tabs than commas sets the delimiter. Unknown columns are ignored. Ids
must be unique. Errors name the place: "line 18: 'views' is not a whole number ('12.5')" for
CSV (physical lines, the header is line 1), "post 17: ..." for JSON (posts count from 1).
Sizes are bounded by `TaskInputLimits`: posts, columns, characters per cell, counts.

"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from corral.errors import InvalidRequest
from corral.tasks.feed import (
    DEFAULT_LIMITS,
    as_record,
    check_field,
    check_post_count,
    check_unique_ids,
    decode_text,
    json_posts,
    param_of,
    parse_count,
    parse_id,
    parse_time,
)
from corral.tasks.inputs import CreatorPost
from corral.tasks.limits import TaskInputLimits

REQUIRED = ("id", "time", "format", "views", "likes", "comments", "shares")
SHOWN_COLUMNS = 20
"""Of a header that lacks a column, the error lists this many of those it has."""
SYNONYMS = {"post_id": "id", "published_at": "time", "type": "format"}

Record = Mapping[str, object]


def read_creator_posts(
    data: bytes, filename_or_type: str, limits: TaskInputLimits = DEFAULT_LIMITS
) -> list[CreatorPost]:
    """Parse a creator history; `filename_or_type` is a file name, "csv"/"json" or a MIME type."""
    kind = _input_kind(filename_or_type)
    text = decode_text(data, "creator history")
    if kind == "csv":
        return creator_csv_posts(text, limits)
    return creator_json_posts(json_posts(text, "creator history"), limits)


def creator_csv_posts(text: str, limits: TaskInputLimits = DEFAULT_LIMITS) -> list[CreatorPost]:
    return _creator_posts(_csv_records(text, limits), limits)


def creator_json_posts(
    items: Sequence[object], limits: TaskInputLimits = DEFAULT_LIMITS
) -> list[CreatorPost]:
    """The posts of an already decoded JSON list."""
    check_post_count(items, limits)
    rows = [
        (f"post {n}", _canonical(as_record(f"post {n}", it, limits)))
        for n, it in enumerate(items, 1)
    ]
    return _creator_posts(rows, limits)


def _creator_posts(
    rows: list[tuple[str, dict[str, object]]], limits: TaskInputLimits
) -> list[CreatorPost]:
    posts = [_creator_post(where, record, limits) for where, record in rows]
    check_unique_ids((where, post.id) for (where, _), post in zip(rows, posts, strict=True))
    return posts


def _input_kind(filename_or_type: str) -> Literal["csv", "json"]:
    name = filename_or_type.split(";")[0].strip().lower()
    if name.endswith("csv"):
        return "csv"
    if name.endswith("json"):
        return "json"
    raise InvalidRequest(
        f"cannot tell the format of {filename_or_type!r}: send a .csv or .json file "
        "(or name the type: csv, json, text/csv, application/json)"
    )


def _canonical(record: Record) -> dict[str, object]:
    fields = {str(key).strip().lower(): value for key, value in record.items()}
    for synonym, name in SYNONYMS.items():
        if synonym in fields and name not in fields:
            fields[name] = fields[synonym]
    return fields


def _csv_records(text: str, limits: TaskInputLimits) -> list[tuple[str, dict[str, object]]]:
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    records: list[tuple[str, dict[str, object]]] = []
    try:
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            _check_row(start, row, limits)
            if header is None:
                header = _csv_header(row)
            else:
                records.append((f"line {start}", _csv_record(f"line {start}", header, row)))
                check_post_count(records, limits, "csv")
    except csv.Error as exc:
        message = f"the creator history is not valid CSV (line {reader.line_num}): {exc}"
        raise InvalidRequest(message) from exc
    if not records:
        raise InvalidRequest("the creator history has no posts (only a header row)")
    return records


def _check_row(line: int, row: list[str], limits: TaskInputLimits) -> None:
    """A row within `max_columns` cells of `max_field_chars` each (before any other work)."""
    if len(row) > limits.max_columns:
        raise InvalidRequest(
            f"line {line}: {len(row):,} columns; at most {limits.max_columns:,}"
            " (task_inputs.max_columns)",
            param="csv",
            code="too_many_columns",
        )
    for number, cell in enumerate(row, 1):
        check_field(f"line {line}", f"column {number}", cell, limits)


def _csv_header(row: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in row]
    counts = Counter(name for name in names if name)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise InvalidRequest(
            f"line 1: the header repeats the column(s) {_listed(repeated)}", param="csv"
        )
    canonical = set(_canonical(dict.fromkeys(names, "")))
    missing = [name for name in REQUIRED if name not in canonical]
    if missing:
        raise InvalidRequest(
            f"the CSV header lacks the column(s) {', '.join(missing)} "
            f"(it has: {_listed([name for name in names if name])})",
            param="csv",
        )
    return names


def _listed(names: list[str]) -> str:
    """Column names for an error: the first few, each cut short, and how many more."""
    shown = ", ".join(name[:40] for name in names[:SHOWN_COLUMNS])
    more = len(names) - SHOWN_COLUMNS
    return shown + (f" and {more:,} more" if more > 0 else "")


def _csv_record(where: str, header: list[str], row: list[str]) -> dict[str, object]:
    if len(row) != len(header):
        raise InvalidRequest(
            f"{where}: {len(row)} values, but the header has {len(header)} columns",
            param="csv",
        )
    return _canonical(dict(zip(header, row, strict=True)))


def _creator_post(where: str, record: Record, limits: TaskInputLimits) -> CreatorPost:
    for name in REQUIRED:
        if name not in record:
            raise InvalidRequest(f"{where}: missing '{name}'", param=param_of(where))
    post_format = record["format"]
    if not isinstance(post_format, str) or not post_format.strip():
        raise InvalidRequest(
            f"{where}: 'format' must be a non-empty string (video, image, ...)",
            param=param_of(where, "format"),
        )
    check_field(where, "format", post_format, limits)
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise InvalidRequest(f"{where}: 'text' is not a string", param=param_of(where, "text"))
    check_field(where, "text", text or "", limits)
    return CreatorPost(
        id=parse_id(where, record["id"]),
        time=parse_time(where, "time", record["time"]),
        format=post_format.strip().lower(),
        views=parse_count(where, "views", record["views"], limits),
        likes=parse_count(where, "likes", record["likes"], limits),
        comments=parse_count(where, "comments", record["comments"], limits),
        shares=parse_count(where, "shares", record["shares"], limits),
        text=text or "",
    )
