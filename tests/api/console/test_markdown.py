"""Markdown in chat answers: what a model or a user wrote becomes formatting, never markup
that runs, loads or links anywhere unsafe."""

from __future__ import annotations

import re

import pytest

from corral.api.console.markdown import render

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)></svg>",
    '<a href="javascript:alert(1)">a</a>',
    "<iframe src=https://evil.example></iframe>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "<javascript:alert(1)>",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "![pixel](https://tracker.example/p.png)",
    "![x](javascript:alert(1))",
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_makes_no_element_that_runs_or_loads(text: str) -> None:
    html = str(render(text))

    tags = set(re.findall(r"<\s*([a-zA-Z]+)", html))
    assert tags <= {"p", "pre", "code", "a"}, html
    assert not re.search(r"<(script|img|svg|iframe)", html, re.I)
    assert not re.search(r"\son\w+\s*=", html.replace("&quot;", '"').split(">", 1)[0])
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("http://", "https://", "mailto:")), html


def test_dangerous_text_stays_readable_as_text() -> None:
    assert str(render("<script>alert(1)</script>")) == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    assert "[click](javascript:alert(1))" in str(render("[click](javascript:alert(1))"))


def test_ordinary_markdown_is_formatted() -> None:
    html = str(render("# Plan\n\n**bold** and *it*\n\n- one\n- two\n\n```\nx = 1\n```"))

    assert "<h1>Plan</h1>" in html and "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<li>one</li>" in html and "<pre><code>x = 1\n</code></pre>" in html


def test_a_web_link_opens_without_telling_the_site_where_from() -> None:
    html = str(render("[docs](https://example.com/a?b=1&c=2)"))

    assert html == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">'
        "docs</a></p>\n"
    )


def test_a_huge_text_is_shown_escaped_without_rendering() -> None:
    html = str(render("<b>" + "x" * 70_000))

    assert html.startswith('<p class="pre">&lt;b&gt;xxx') and "<b>" not in html
