"""Token counts of text without a tokenizer, by its UTF-8 bytes: one name per use.

- `estimate_tokens`: about how many tokens a text is (4 bytes a token, as English text runs
  on the common BPE vocabularies). For billing what a provider did not count.
- `high_token_estimate`: more tokens than most texts turn out to have (2.5 bytes a token:
  German, and text with many numbers or symbols, takes more tokens per byte than English). For
  cutting input into pieces that must fit a model's context.
- A bound that holds for any tokenizer (one token per byte at most) is
  `remote.common.prompt_token_bound`: budgets reserve from it.
"""

from __future__ import annotations

import math

_BYTES_PER_TOKEN = 4
_BYTES_PER_TOKEN_HIGH = 2.5


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is; never for budget holds (those use a bound)."""
    return tokens_of_bytes(len(text.encode()))


def tokens_of_bytes(size: int) -> int:
    """`estimate_tokens` for a text of `size` UTF-8 bytes."""
    return math.ceil(size / _BYTES_PER_TOKEN)


def high_token_estimate(text: str) -> int:
    """A count most tokenizers stay under for `text`: for fitting pieces into a context."""
    return math.ceil(len(text.encode()) / _BYTES_PER_TOKEN_HIGH)
