"""course_utils.onnxfile.history: the timeline data stays sourced and ordered, and the plot draws every event."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from course_utils.onnxfile import history
from course_utils.onnxfile.history import EVENTS, Event, event, events, plot_timeline, timeline_table


def test_every_event_names_a_source_and_unique_key():
    keys = [e.key for e in EVENTS]
    assert len(keys) == len(set(keys))
    for e in EVENTS:
        assert e.source.strip(), f"{e.key} has no source"
        assert e.url == "" or e.url.startswith("https://"), e.key


# Every event, checked against the dated facts the course teaches from: (when, words its detail must contain).
FACTS = {
    "first_commit": ("2017-09-06", "first commit"),
    "announced": ("2017-09", "Microsoft and Facebook"),
    "onnx_1_0": ("2017-12-04", "IR version 3, opset 1"),
    "ort_open_source": ("2018-12-04", "ONNX Runtime open-sourced"),
    "lf_ai": ("2019-11-14", "graduate project of LF AI"),
    "apache_license": ("2021-01", "Apache-2.0"),
    "ort_web": ("2021-04", "onnxruntime-web"),
    "onnxjs_retired": ("2021-08", "ONNX.js retired"),
    "torch_dynamo_default": ("2025-10-15", "PyTorch 2.9"),
}


@pytest.mark.parametrize("key", sorted(FACTS))
def test_each_event_has_the_date_and_fact_of_its_source(key):
    when, words = FACTS[key]
    assert event(key).when == when
    assert words in event(key).detail


def test_the_timeline_states_only_sourced_facts():
    # Partners said to have joined in late 2017 have no primary source: not drawn as a fact.
    assert {e.key for e in EVENTS} == set(FACTS)
    assert "Azure blog" in event("ort_open_source").source
    assert "2025-10-15" in event("torch_dynamo_default").source
    text = " ".join(f"{e.detail} {e.source}" for e in EVENTS).lower()
    for research_talk in ("commonly cited", "unverified", "our source", "fact sheet"):
        assert research_talk not in text


def test_events_are_in_date_order_and_month_only_dates_sort_after_known_days():
    ordered = events()
    assert [e.sort_key for e in ordered] == sorted(e.sort_key for e in ordered)
    keys = [e.key for e in ordered]
    assert keys.index("first_commit") < keys.index("announced")  # 2017-09-06 before "sometime in 2017-09"
    assert keys[0] == "first_commit" and keys[-1] == "torch_dynamo_default"
    assert keys.index("onnx_1_0") < keys.index("ort_open_source") < keys.index("lf_ai")


@pytest.mark.parametrize(
    "when,expected",
    [("2017-12-04", (2017, 12, 4)), ("2017-09", (2017, 9, 1)), ("2025", (2025, 1, 1))],
)
def test_dates_of_each_precision(when, expected):
    item = Event("k", when, "label", "detail", "source")
    assert (item.date.year, item.date.month, item.date.day) == expected
    assert expected[0] <= item.year < expected[0] + 1


@pytest.mark.parametrize(
    "when,precision,low,high",
    [
        ("2017-12-04", "day", 2017.92, 2017.93),
        ("2017-09", "month", 2017.70, 2017.71),  # mid-September, not 1 September
        ("2017-12", "month", 2017.95, 2017.97),  # December's middle, not January of the next year
        ("2025", "year", 2025.49, 2025.51),  # mid-2025, not 1 January
    ],
)
def test_imprecise_dates_are_drawn_in_the_middle_of_their_span(when, precision, low, high):
    item = Event("k", when, "label", "detail", "source")
    assert item.precision == precision
    assert low < item.year < high


def test_timeline_positions_follow_the_date_order():
    # A month-only date sorts after the known days of that month, so it must also be drawn after them.
    xs = [e.year for e in events()]
    assert xs == sorted(xs)
    assert event("announced").year > event("first_commit").year


@pytest.mark.parametrize("when", ["Sept 2017", "2017/09", "17-09", ""])
def test_malformed_dates_are_rejected(when):
    with pytest.raises(ValueError, match="YYYY"):
        Event("k", when, "label", "detail", "source")


def test_event_lookup_lists_keys_when_missing():
    assert event("lf_ai").when == "2019-11-14"
    with pytest.raises(KeyError, match="onnx_1_0"):
        event("no_such_event")


def test_timeline_table_has_a_row_per_event_with_its_source():
    lines = timeline_table().splitlines()
    assert lines[0].split() == ["when", "what", "source"]
    assert len(lines) == 2 + len(EVENTS)
    for e, line in zip(events(), lines[2:], strict=True):
        assert line.startswith(e.when) and e.source in line
    assert timeline_table([event("lf_ai")]).count("\n") == 2


def test_plot_draws_every_event_into_the_given_axes():
    fig, ax = plt.subplots(figsize=(11, 4.5))
    try:
        returned = plot_timeline(ax=ax)
        assert returned is ax
        labels = [t.get_text() for t in ax.texts]
        assert len(labels) == len(EVENTS)
        assert all(any(e.label in text for text in labels) for e in EVENTS)
        assert f"{len(EVENTS)} events" in ax.get_title() and "2017–2025" in ax.get_title()
        left, right = ax.get_xlim()
        assert left < min(e.year for e in EVENTS) and right > max(e.year for e in EVENTS)
    finally:
        plt.close(fig)


def test_drawn_labels_do_not_overlap():
    # Measured on the rendered figure, not on the layout's own estimate of the label sizes.
    fig, ax = plt.subplots(figsize=(11, 4.5))
    try:
        plot_timeline(ax=ax)
        fig.canvas.draw()
        boxes = [t.get_window_extent() for t in ax.texts]
        assert len(boxes) == len(EVENTS)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), f"labels overlap: {a} and {b}"
    finally:
        plt.close(fig)


def test_all_clear_detects_overlapping_labels():
    assert history._all_clear([2017.0, 2019.0], [0.5, 0.5], 0.6, [1.0, 1.0])
    assert not history._all_clear([2017.0, 2017.1], [0.5, 0.5], 0.6, [1.0, 1.0])  # same height, boxes overlap
    assert not history._all_clear([2017.0, 2017.1], [0.5, 0.5], 0.6, [1.0, 2.0])  # a later stem crosses a label


def test_plot_uses_current_axes_by_default_and_rejects_empty():
    fig = plt.figure()
    try:
        assert plot_timeline() is fig.gca()
        with pytest.raises(ValueError, match="at least one event"):
            plot_timeline(items=[])
    finally:
        plt.close(fig)


def test_labels_do_not_overlap_or_cross_stems():
    xs = [2017.0, 2017.05, 2017.1, 2017.15]
    heights = history._place_labels(xs, [0.5] * 4, 0.6, levels=4)
    boxes = [history._label_box(x, h, 0.5, 0.6) for x, h in zip(xs, heights, strict=True)]
    for i in range(4):
        for j in range(4):
            if i != j:
                assert not history._overlaps(boxes[i], boxes[j])
                assert not history._stem_hits(xs[i], heights[i], boxes[j])


def test_labels_use_both_sides_of_the_axis():
    heights = history._place_labels([2017.0, 2019.0, 2021.0, 2023.0], [0.5] * 4, 0.6, levels=4)
    assert any(h > 0 for h in heights) and any(h < 0 for h in heights)
    assert all(abs(h) == 1 for h in heights)  # room for all of them next to the axis
