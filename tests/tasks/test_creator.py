"""The creator history: reading CSV and JSON, and every fact checked against its own computation."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import random
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

from corral.errors import InvalidRequest
from corral.tasks.creator import read_creator_posts
from corral.tasks.creator_facts import compute_facts, engagement_rate
from corral.tasks.inputs import CreatorPost, Fact

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "tasks" / "fixtures"
HEADER = "id,time,format,views,likes,comments,shares,text\n"


def post(post_id: str, time: str, post_format: str, engaged: int, views: int = 100) -> CreatorPost:
    """A post whose engagements are all likes (the rate is engaged / views)."""
    return CreatorPost(post_id, dt.datetime.fromisoformat(time), post_format, views, engaged, 0, 0)


def by_id(facts: list[Fact]) -> dict[str, Fact]:
    return {fact.id: fact for fact in facts}


# Six posts whose answers are known by hand: Mondays at 09:00, Tuesdays at 18:00 (UTC).
SIX = [
    CreatorPost("p1", dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC), "video", 100, 8, 1, 1),  # 0.10
    CreatorPost("p2", dt.datetime(2024, 1, 2, 18, tzinfo=dt.UTC), "image", 100, 4, 1, 0),  # 0.05
    CreatorPost("p3", dt.datetime(2024, 1, 8, 9, tzinfo=dt.UTC), "image", 100, 3, 0, 0),  # 0.03
    CreatorPost("p4", dt.datetime(2024, 1, 9, 18, tzinfo=dt.UTC), "video", 100, 10, 1, 1),  # 0.12
    CreatorPost("p5", dt.datetime(2024, 1, 15, 9, tzinfo=dt.UTC), "text", 100, 2, 0, 0),  # 0.02
    CreatorPost("p6", dt.datetime(2024, 1, 16, 18, tzinfo=dt.UTC), "video", 100, 12, 2, 0),  # 0.14
]
SIX_RATES = [0.10, 0.05, 0.03, 0.12, 0.02, 0.14]


# --- the facts of the six-post example -------------------------------------------------------


def test_rates_and_the_overall_figures_match_a_hand_computation() -> None:
    facts = by_id(compute_facts(SIX))

    assert [engagement_rate(p) for p in SIX] == pytest.approx(SIX_RATES)
    overall = facts["rate_overall"].numbers
    assert overall["mean"] == pytest.approx(0.46 / 6)
    assert overall["median"] == pytest.approx(0.075)
    assert overall["stdev"] == pytest.approx(statistics.pstdev(SIX_RATES))
    assert (overall["min"], overall["max"]) == pytest.approx((0.02, 0.14))
    assert overall["pooled"] == pytest.approx(46 / 600)
    assert "mean 7.67%" in facts["rate_overall"].text
    assert "median 7.50%" in facts["rate_overall"].text


def test_the_trend_is_the_least_squares_slope_and_the_quarters() -> None:
    trend = by_id(compute_facts(SIX))["trend"]

    # Σ(x - 2.5)·y = 0.10 and Σ(x - 2.5)² = 17.5, so the slope is 1/175.
    assert trend.numbers["slope_per_post"] == pytest.approx(1 / 175)
    slope = statistics.linear_regression(range(6), SIX_RATES).slope
    assert trend.numbers["slope_per_post"] == pytest.approx(slope)
    assert trend.numbers["posts_per_quarter"] == 1
    assert trend.numbers["first_quarter_mean"] == pytest.approx(0.10)
    assert trend.numbers["last_quarter_mean"] == pytest.approx(0.14)
    assert trend.numbers["change"] == pytest.approx(0.04)
    assert trend.numbers["direction"] == 1
    assert trend.text.startswith("Engagement is rising")
    assert "+0.571 percentage points per post" in trend.text


def test_best_hours_and_weekdays_rank_the_buckets_of_three_posts() -> None:
    facts = by_id(compute_facts(SIX))

    hours = facts["best_hours"].numbers
    assert (hours["top1_hour"], hours["top1_posts"]) == (18, 3)
    assert hours["top1_mean"] == pytest.approx(statistics.fmean([0.05, 0.12, 0.14]))
    assert (hours["top2_hour"], hours["top2_posts"]) == (9, 3)
    assert hours["top2_mean"] == pytest.approx(0.05)
    assert "top3_hour" not in hours
    weekdays = facts["best_weekdays"]
    assert (weekdays.numbers["top1_weekday"], weekdays.numbers["top2_weekday"]) == (1, 0)
    assert "Tuesday (mean rate 10.33%, 3 posts); Monday (mean rate 5.00%, 3 posts)" in (
        weekdays.text
    )


def test_formats_are_ranked_by_mean_rate_with_their_counts() -> None:
    facts = compute_facts(SIX)

    formats = [fact for fact in facts if fact.id.startswith("format_")]
    assert [fact.id for fact in formats] == ["format_video", "format_image", "format_text"]
    assert [f.numbers["posts"] for f in formats] == [3, 2, 1]
    assert [f.numbers["mean"] for f in formats] == pytest.approx([0.12, 0.04, 0.02])
    assert formats[0].text == (
        "Video posts: 3 of 6, mean engagement rate 12.00% (1st of 3 formats; overall mean 7.67%)."
    )


def test_posting_frequency_counts_the_gaps_over_the_span() -> None:
    frequency = by_id(compute_facts(SIX))["posting_frequency"]

    # From Monday 1 January 09:00 to Tuesday 16 January 18:00: 15.375 days, 5 gaps.
    assert frequency.numbers["days"] == pytest.approx(15.375)
    assert frequency.numbers["posts_per_week"] == pytest.approx(5 / 15.375 * 7)
    assert frequency.numbers["mean_gap_days"] == pytest.approx(15.375 / 5)
    assert frequency.text.startswith("6 posts from 2024-01-01 to 2024-01-16 (15.4 days)")


def test_the_six_posts_have_no_outliers_and_the_facts_come_in_a_fixed_order() -> None:
    facts = compute_facts(SIX)

    assert [fact.id for fact in facts] == [
        "posting_frequency", "rate_overall", "trend", "best_hours", "best_weekdays",
        "format_video", "format_image", "format_text",
    ]  # fmt: skip


# --- smaller stories ---------------------------------------------------------------------------


def test_a_post_far_above_the_mean_is_an_outlier() -> None:
    posts = [post(f"p{i}", f"2024-02-{i + 1:02d}T10:00", "image", 5) for i in range(9)]
    posts.append(post("big", "2024-02-20T10:00", "video", 50))

    facts = by_id(compute_facts(posts))

    # Rates: nine at 0.05 and one at 0.5 → mean 0.095, population sd 0.135, z = 3.
    outlier = facts["outlier_big"].numbers
    assert outlier["mean"] == pytest.approx(0.095)
    assert outlier["stdev"] == pytest.approx(statistics.pstdev([0.05] * 9 + [0.5]))
    assert outlier["z"] == pytest.approx(3.0)
    assert "3.0 standard deviations above the mean of 9.50%" in facts["outlier_big"].text
    assert [fact_id for fact_id in facts if fact_id.startswith("outlier_")] == ["outlier_big"]


def test_a_post_with_no_views_rates_zero_is_noted_and_can_fall_below() -> None:
    posts = [post(f"p{i}", f"2024-02-{i + 1:02d}T10:00", "image", 10) for i in range(9)]
    posts.append(post("fresh", "2024-02-20T10:00", "image", 0, views=0))

    facts = by_id(compute_facts(posts))

    assert facts["zero_views"].numbers == {"posts": 1}
    assert "(fresh)" in facts["zero_views"].text
    # Nine at 0.10 and one at 0 → mean 0.09, sd 0.03, z = -3.
    assert facts["outlier_fresh"].numbers["z"] == pytest.approx(-3.0)
    assert "below the mean" in facts["outlier_fresh"].text


def test_equal_rates_have_a_flat_trend_and_no_outliers() -> None:
    posts = [post(f"p{i}", f"2024-03-{i + 1:02d}T08:00", "text", 4) for i in range(8)]

    facts = by_id(compute_facts(posts))

    assert facts["trend"].numbers["direction"] == 0
    assert facts["trend"].numbers["slope_per_post"] == 0
    assert facts["trend"].text.startswith("Engagement is flat")
    assert not [fact_id for fact_id in facts if fact_id.startswith("outlier_")]


def test_falling_rates_have_a_falling_trend() -> None:
    posts = [post(f"p{i}", f"2024-03-{i + 1:02d}T08:00", "text", 20 - 2 * i) for i in range(8)]

    trend = by_id(compute_facts(posts))["trend"]

    assert trend.numbers["direction"] == -1
    assert trend.numbers["slope_per_post"] == pytest.approx(-0.02)
    assert trend.numbers["first_quarter_mean"] == pytest.approx(0.19)
    assert trend.numbers["last_quarter_mean"] == pytest.approx(0.07)


def test_hours_need_three_posts_and_only_the_top_three_are_kept() -> None:
    posts = [
        post(f"h{hour}_{day}", f"2024-04-{day:02d}T{hour:02d}:00", "image", hour)
        for hour in (8, 9, 10, 11)
        for day in (1, 2, 3)
    ]
    posts += [post(f"late{day}", f"2024-04-{day:02d}T23:00", "image", 90) for day in (4, 5)]

    hours = by_id(compute_facts(posts))["best_hours"].numbers

    assert [hours[f"top{rank}_hour"] for rank in (1, 2, 3)] == [11, 10, 9]
    assert 23 not in hours.values()


def test_no_bucket_of_three_and_too_few_posts_leave_those_facts_out() -> None:
    facts = by_id(compute_facts(SIX[:2]))

    assert set(facts) == {
        "posting_frequency", "rate_overall", "format_video", "format_image",
    }  # fmt: skip


def test_hours_are_read_on_each_posts_own_clock_and_order_follows_the_instant() -> None:
    posts = [post(f"p{day}", f"2024-05-0{day}T19:30+01:00", "video", 9) for day in (1, 2, 3)]
    posts.append(post("naive", "2024-05-03T18:45", "video", 1))  # UTC: after p3 (18:30 UTC)

    facts = by_id(compute_facts(posts))

    assert facts["best_hours"].numbers["top1_hour"] == 19
    assert facts["trend"].numbers["last_quarter_mean"] == pytest.approx(0.01)


def test_the_facts_do_not_depend_on_the_input_order_and_repeat_exactly() -> None:
    shuffled = SIX[:]
    random.Random(3).shuffle(shuffled)

    assert compute_facts(shuffled) == compute_facts(SIX) == compute_facts(SIX)


def test_an_empty_history_has_no_facts() -> None:
    with pytest.raises(InvalidRequest, match="has no posts"):
        compute_facts([])


# --- reading CSV and JSON ----------------------------------------------------------------------


def test_csv_and_json_read_to_the_same_posts() -> None:
    csv_data = HEADER + 'p1,2024-01-01T09:00:00Z,Video,100,8,1,1,"Hi, all"\n'
    json_data = [
        {"id": "p1", "time": "2024-01-01T09:00:00+00:00", "format": "video", "views": 100}
        | {"likes": 8, "comments": "1", "shares": 1.0, "text": "Hi, all"}
    ]

    from_csv = read_creator_posts(csv_data.encode(), "history.csv")
    from_list = read_creator_posts(json.dumps(json_data).encode(), "application/json")
    from_object = read_creator_posts(json.dumps({"posts": json_data}).encode(), "json")

    expected = CreatorPost(
        "p1", dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC), "video", 100, 8, 1, 1, "Hi, all"
    )
    assert from_csv == from_list == from_object == [expected]


def test_csv_takes_synonyms_semicolons_a_bom_and_no_text_column() -> None:
    data = "\ufeffPost_ID;Published_At;Type;Views;Likes;Comments;Shares;Extra\n"
    data += "7;2024-01-01 09:00;reel;10;1;0;0;x\n"

    (only,) = read_creator_posts(data.encode(), "text/csv; charset=utf-8")

    assert (only.id, only.format, only.text) == ("7", "reel", "")
    assert only.time == dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)


def test_json_keeps_the_offset_given_and_a_whole_number_id() -> None:
    data = [{"id": 5, "published_at": "2024-01-01T19:00:00+01:00", "type": "image"}]
    data[0] |= {"views": 0, "likes": 0, "comments": 0, "shares": 0}

    (only,) = read_creator_posts(json.dumps(data).encode(), "x.json")

    assert only.id == "5" and only.time.hour == 19
    assert only.time.utcoffset() == dt.timedelta(hours=1)


CSV_ROW = "p1,2024-01-01T09:00:00Z,video,100,8,1,1,hi\n"
CSV_ERRORS = [
    (b"", "the creator history is empty"),
    (b"  \n", "the creator history is empty"),
    (b"\xff\xfe", "the creator history is not UTF-8 text"),
    (HEADER.encode(), "has no posts (only a header row)"),
    (b"id,time,format,views,likes,comments\np1,x,v,1,1,1\n", "lacks the column(s) shares"),
    (b"id,id,time\n", "line 1: the header repeats the column(s) id"),
    (HEADER + CSV_ROW.replace("100", "abc"), "line 2: 'views' is not a whole number ('abc')"),
    (HEADER + CSV_ROW.replace("100", "12.5"), "line 2: 'views' is not a whole number ('12.5')"),
    (HEADER + CSV_ROW.replace(",8,", ",-3,"), "line 2: 'likes' is negative (-3)"),
    (HEADER + CSV_ROW.replace(",8,", ",,"), "line 2: 'likes' is empty"),
    (HEADER + CSV_ROW.replace("2024-01-01T09:00:00Z", "yesterday"), "line 2: 'time' is not an"),
    (HEADER + CSV_ROW.replace(",hi", ""), "line 2: 7 values, but the header has 8 columns"),
    (HEADER + CSV_ROW + CSV_ROW, "line 3: id 'p1' repeats the id of line 2"),
    (HEADER + CSV_ROW.replace("video", " "), "line 2: 'format' must be a non-empty string"),
    (HEADER + 'p1,2024-01-01,v,1,1,1,1,"open\n', "is not valid CSV (line 2): unexpected end"),
    (HEADER + 'p1,2024-01-01,v,1,1,1,1,"a"b\n', "is not valid CSV (line 2): ',' expected after"),
]


@pytest.mark.parametrize(("data", "message"), CSV_ERRORS)
def test_bad_csv_is_refused_with_the_line_and_the_problem(data: str | bytes, message: str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()

    with pytest.raises(InvalidRequest) as caught:
        read_creator_posts(raw, "history.csv")

    assert message in caught.value.message
    assert caught.value.status_code == 400


def test_csv_errors_count_physical_lines_past_multiline_text() -> None:
    data = HEADER + 'p1,2024-01-01,v,1,1,1,1,"two\nlines"\n\np2,2024-01-02,v,x,1,1,1,ok\n'

    with pytest.raises(InvalidRequest, match=r"^line 5: 'views' is not a whole number \('x'\)$"):
        read_creator_posts(data.encode(), "history.csv")


GOOD = {"id": "p1", "time": "2024-01-01T09:00Z", "format": "video", "views": 10, "likes": 1}
GOOD |= {"comments": 0, "shares": 0}
JSON_ERRORS: list[tuple[object, str]] = [
    ("[1,", "the creator history is not valid JSON: Expecting value at line 1, column 4"),
    (3, 'must be a JSON list of posts or an object with a "posts" list, not the number 3'),
    ({"items": []}, "not an object"),
    ([], "the creator history has no posts"),
    ([GOOD, "x"], "post 2: expected an object, got the string 'x'"),
    ([{k: v for k, v in GOOD.items() if k != "shares"}], "post 1: missing 'shares'"),
    ([GOOD | {"views": True}], "post 1: 'views' is not a whole number (a boolean)"),
    ([GOOD | {"views": 1.5}], "post 1: 'views' is not a whole number (the number 1.5)"),
    ([GOOD | {"shares": -1}], "post 1: 'shares' is negative (-1)"),
    ([GOOD | {"time": 1700000000}], "post 1: 'time' is not an ISO 8601 time string"),
    ([GOOD | {"id": None}], "post 1: 'id' is not a string or a whole number (null)"),
    ([GOOD | {"text": 5}], "post 1: 'text' is not a string"),
    ([GOOD, GOOD], "post 2: id 'p1' repeats the id of post 1"),
]


@pytest.mark.parametrize(("document", "message"), JSON_ERRORS)
def test_bad_json_is_refused_with_the_post_and_the_problem(document: object, message: str) -> None:
    raw = document if isinstance(document, str) else json.dumps(document)

    with pytest.raises(InvalidRequest) as caught:
        read_creator_posts(raw.encode(), "history.json")

    assert message in caught.value.message


def test_a_file_of_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"cannot tell the format of 'history\.xlsx'"):
        read_creator_posts(b"anything", "history.xlsx")


# --- the committed fixtures --------------------------------------------------------------------


def load_fixture(name: str) -> list[CreatorPost]:
    return read_creator_posts((FIXTURES / name).read_bytes(), name)


def test_the_fixture_reads_the_same_from_csv_and_json() -> None:
    from_csv, from_json = load_fixture("creator_posts.csv"), load_fixture("creator_posts.json")

    assert from_csv == from_json
    assert len(from_csv) >= 100


def test_the_fixture_facts_find_the_planted_patterns() -> None:
    posts = load_fixture("creator_posts.csv")

    facts = by_id(compute_facts(posts))

    assert facts["format_video"].numbers["rank"] == 1
    hours = facts["best_hours"].numbers
    assert all(18 <= hours[f"top{rank}_hour"] <= 21 for rank in (1, 2, 3))
    assert facts["trend"].numbers["direction"] == 1
    assert facts["trend"].numbers["change"] > 0
    assert sorted(f for f in facts if f.startswith("outlier_")) == ["outlier_p038", "outlier_p089"]


def test_the_fixture_means_match_an_independent_computation() -> None:
    posts = load_fixture("creator_posts.json")
    rates = [(p.likes + p.comments + p.shares) / p.views for p in posts]

    facts = by_id(compute_facts(posts))

    assert facts["rate_overall"].numbers["mean"] == pytest.approx(statistics.fmean(rates))
    assert facts["rate_overall"].numbers["median"] == pytest.approx(statistics.median(rates))
    assert facts["rate_overall"].numbers["stdev"] == pytest.approx(statistics.pstdev(rates))
    videos = [rate for rate, p in zip(rates, posts, strict=True) if p.format == "video"]
    assert facts["format_video"].numbers["mean"] == pytest.approx(statistics.fmean(videos))
    slope = statistics.linear_regression(range(len(rates)), rates).slope
    assert facts["trend"].numbers["slope_per_post"] == pytest.approx(slope)


def _fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_task_fixtures", ROOT / "scripts" / "make_task_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_fixtures_are_what_the_seeded_script_writes(tmp_path: Path) -> None:
    _fixture_script().write(tmp_path)

    for name in ("creator_posts.csv", "creator_posts.json", "feed_posts.json"):
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name
