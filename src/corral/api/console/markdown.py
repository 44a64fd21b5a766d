"""Markdown for the chat's messages, rendered on the server where nothing a model or a user
wrote can become markup: raw HTML is off (a `<script>` is shown as text), images are off (no
request to another server when a page opens), and a link is made only to an http(s) or mailto
address (a `javascript:` or `data:` link stays text). The page's CSP stands behind all this."""

from __future__ import annotations

import functools
from typing import Any

_SCHEMES = ("http://", "https://", "mailto:")
_MAX_CHARS = 32_000
"""A longer text is shown as plain text: rendering costs a few microseconds a character (up to
~25 for hostile input such as 30,000 "["), and answers are far shorter."""


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_SCHEMES)


@functools.cache
def _renderer() -> Any:
    """Made at the first message shown (markdown-it-py comes with rich, which corral uses)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_inline", "html_block"])
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # A link out of the console tells the other site nothing and gets no hold on the tab.
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


@functools.lru_cache(maxsize=512)
def render(text: str) -> Any:
    """The text as HTML (a `markupsafe.Markup`, so Jinja2 does not escape it twice). Kept for
    the next view of the same conversation: a message does not change once written."""
    from markupsafe import Markup, escape

    if len(text) > _MAX_CHARS:
        return Markup('<p class="pre">') + escape(text) + Markup("</p>")
    return Markup(_renderer().render(text))  # html off: every text is escaped


def render_answers(messages: list[dict[str, Any]]) -> list[Any]:
    """Each message's HTML if it is an answer (None for the user's own, shown as text); run
    in a worker thread, so that a long answer's first rendering does not hold up the server."""
    return [render(m["content"]) if m["role"] == "assistant" else None for m in messages]
