"""A feed's topics found in code: posts grouped by the words they share, each group's key words,
and the posts that stand for it (summarize's fast mode, `summarize_fast`).

Posts are bags of content words (English and German stop words out, a light stem: plural
endings off, then the first seven letters), weighted by how rare a word is across the feed
(tf-idf); a post's comments count at half weight; each post's vector is then smoothed by the
company its words keep across the feed (short posts on one topic often share no word, but
their words are seen with the same others). Grouping is a leader pass in time order (a post
joins the nearest group whose centre it shares `JOIN` cosine with, else starts one), then a
few rounds of moving every post to its nearest centre (spherical k-means), then the two most
alike groups merge while their centres share `MERGE` cosine. Groups smaller than `min_size`
are not topics: a feed's one-off posts are left out, not forced into a topic. 500 posts take
0.5-1 s on a loaded 2-core machine. What each signal is worth: docs/tasks.md (ablation).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from corral.tasks.inputs import Post

JOIN = 0.22
"""Cosine a post needs with a group's centre to join it in the leader pass."""
MERGE = 0.6
"""Cosine between two groups' centres above which they are one topic."""
ROUNDS = 4
SMOOTHING = 1.0
COMMENT_WEIGHT = 0.5
COMMON = 0.6
"""A word in more than this share of the posts tells no topic apart (a topic may hold half
of a feed)."""
STEM_LETTERS = 7
_WORD = re.compile(r"[^\W\d_]{3,}")
_STOP_WORDS = """
    the and for are but not you your with this that have has had was were will would can could
    from they them their there what when where which who why how all any just about into out
    our ours its it's than then too very also some more most much many been being only over
    after before again here today tonight tomorrow yesterday now get got one two new did does
    done let lets i'm we're you're it's don't can't isn't thanks thank please yes yeah okay
    der die das und ist nicht ich wir ihr sie ein eine einen einem einer mit auf für noch
    auch dann schon aber oder wenn wie was wann wer den dem des sich bei von vom zum zur aus
    nach hat haben habe sind war waren wird werden kann können muss hier heute morgen gestern
    über unter ohne gegen durch seit bis beim wurde jetzt mal gibt nur sehr mehr viel viele
    alle allem danke bitte gerne schön euch uns mein
    meine dein deine sein seine ihre unser unsere diese dieser dieses jemand immer wieder
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
"""Words that say nothing of a topic, English and German."""


def stem(word: str) -> str:
    """A word's key: lower case, a plural or German case ending off, at most seven letters."""
    word = word.lower()
    for ending in ("ies", "es", "en", "er", "s", "n", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[: -len(ending)]
            break
    return word[:STEM_LETTERS]


def words(text: str) -> list[str]:
    """The content words of a text, as written (stop words out)."""
    return [w for w in _WORD.findall(text) if w.lower() not in STOP_WORDS]


@dataclass(slots=True)
class Topic:
    posts: list[int]
    """Indexes into the feed, most central first."""
    keywords: list[str]
    """The group's most telling words, as most often written, strongest first."""
    weight: float = 0.0
    """Posts plus their reactions and comments (log-damped): what ranks topics."""
    centre: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FeedSignals:
    """What the grouping uses; each can be switched off to measure what it is worth
    (`bench/tasks.py`'s ablation)."""

    company: bool = True
    """Posts' vectors smoothed by the words their words are seen with."""
    comments: bool = True
    """A post's comments count (at half weight)."""
    rarity: bool = True
    """Words weighted by how rare they are across the feed (idf); off: every word weighs 1."""


def find_topics(
    posts: Sequence[Post],
    most: int = 6,
    min_size: int | None = None,
    signals: FeedSignals = FeedSignals(),
) -> list[Topic]:
    """The feed's topics, the weightiest first, at most `most`."""
    plain, surface = _vectors(posts, signals)
    vectors = _smoothed(plain) if signals.company else plain
    floor = min_size if min_size is not None else max(3, round(0.02 * len(posts)))
    topics = []
    for members in _group(vectors):
        if len(members) < floor:
            continue  # a feed's one-off posts are no topic
        centre = _centre([vectors[i] for i in members])
        ranked = sorted(members, key=lambda i: -_cos(vectors[i], centre))
        weight = sum(1.0 + math.log1p(_engagement(posts[i])) for i in members)
        topics.append(Topic(ranked, _keywords(centre, surface), weight, centre))
    topics.sort(key=lambda t: -t.weight)
    return topics[:most]


def _engagement(post: Post) -> int:
    return sum(post.reactions.values()) + len(post.comments)


def _vectors(
    posts: Sequence[Post], signals: FeedSignals
) -> tuple[list[dict[str, float]], dict[str, str]]:
    """Each post's unit tf-idf vector, and the most written form of each stem."""
    counts: list[Counter[str]] = []
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for post in posts:
        bag: Counter[str] = Counter()
        comments = post.comments if signals.comments else []
        for weight, text in [(1.0, post.text)] + [(COMMENT_WEIGHT, c) for c in comments]:
            for word in words(text):
                key = stem(word)
                bag[key] += weight  # type: ignore[assignment]
                forms[key][word.lower()] += 1
        counts.append(bag)
    seen = Counter(key for bag in counts for key in bag)
    total = len(posts)
    vectors = []
    for bag in counts:
        # a word in one post only links nothing; one in most posts tells nothing apart
        raw = {
            k: v * (math.log(total / seen[k]) if signals.rarity else 1.0)
            for k, v in bag.items()
            if 2 <= seen[k] <= COMMON * total
        }
        vectors.append(_unit(raw))
    surface = {key: form.most_common(1)[0][0] for key, form in forms.items()}
    return vectors, surface


def _smoothed(vectors: list[dict[str, float]]) -> list[dict[str, float]]:
    """Each post's vector plus the words its words are seen with across the feed: two posts on
    one topic that share no word still share their words' company ("bridge" and "diversion"
    are both seen with "traffic")."""
    company: dict[str, dict[str, float]] = defaultdict(dict)
    for vector in vectors:
        for a in vector:
            row = company[a]
            for b, weight in vector.items():
                if b != a:
                    row[b] = row.get(b, 0.0) + weight
    rows = {word: _unit(row) for word, row in company.items()}
    out = []
    for vector in vectors:
        total = dict(vector)
        for word, weight in vector.items():
            for other, value in rows[word].items():
                total[other] = total.get(other, 0.0) + SMOOTHING * weight * value
        out.append(_unit(total))
    return out


def _group(vectors: list[dict[str, float]]) -> list[list[int]]:
    centres: list[dict[str, float]] = []
    for vector in vectors:  # leader pass
        best, near = _nearest(vector, centres)
        if vector and best >= JOIN:
            centres[near] = _unit(_add(centres[near], vector))
        elif vector:
            centres.append(dict(vector))
    members: list[list[int]] = []
    for _ in range(ROUNDS):  # move every post to its nearest centre
        members = [[] for _ in centres]
        for index, vector in enumerate(vectors):
            best, near = _nearest(vector, centres)
            if best > 0:
                members[near].append(index)
        members = [m for m in members if m]
        centres = [_centre([vectors[i] for i in m]) for m in members]
    return _merged(members, centres, vectors)


def _merged(
    members: list[list[int]], centres: list[dict[str, float]], vectors: list[dict[str, float]]
) -> list[list[int]]:
    """Merge the two groups with the most alike centres, until none are `MERGE` alike."""
    while len(centres) > 1:
        best, a, b = max(
            (_cos(centres[a], centres[b]), a, b)
            for a in range(len(centres))
            for b in range(a + 1, len(centres))
        )
        if best < MERGE:
            break
        members[a] += members.pop(b)
        del centres[b]
        centres[a] = _centre([vectors[i] for i in members[a]])
    return members


def _nearest(vector: dict[str, float], centres: list[dict[str, float]]) -> tuple[float, int]:
    best, near = 0.0, -1
    for index, centre in enumerate(centres):
        similarity = _cos(vector, centre)
        if similarity > best:
            best, near = similarity, index
    return best, near


def _keywords(centre: dict[str, float], surface: dict[str, str], most: int = 5) -> list[str]:
    top = sorted(centre, key=lambda k: -centre[k])[:most]
    return [surface[k] for k in top]


def _centre(vectors: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for vector in vectors:
        total = _add(total, vector)
    return _unit(total)


def _add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0.0) + value
    return out


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}


def _cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())
