"""MEGC spotting scores against hand-computed cases."""

from __future__ import annotations

import pytest

from microexp.errors import MicroexpError
from microexp.evaluation import interval_iou, spot_scores


def test_iou_is_inclusive_and_one_based():
    assert interval_iou((1, 10), (1, 10)) == 1.0
    assert interval_iou((1, 10), (11, 20)) == 0.0
    assert interval_iou((1, 10), (10, 19)) == pytest.approx(1 / 19)  # one shared frame
    assert interval_iou((1, 10), (1, 5)) == 0.5


@pytest.mark.parametrize(
    ("pred_offset", "iou", "tp"),
    [(51, 0.51, 1), (50, 0.50, 1), (49, 0.49, 0)],  # truth 1-100, prediction 1-offset
)
def test_threshold_just_above_at_and_below_half(pred_offset, iou, tp):
    assert interval_iou((1, 100), (1, pred_offset)) == pytest.approx(iou)
    s = spot_scores([("v", 1, pred_offset)], [("v", 1, 100)])["overall"]
    assert (s["tp"], s["fp"], s["fn"]) == (tp, 1 - tp, 1 - tp)


def test_two_predictions_on_one_truth_give_one_tp_and_one_fp():
    s = spot_scores([("v", 1, 10), ("v", 2, 10)], [("v", 1, 10)])["overall"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 0)
    assert s["precision"] == 0.5 and s["recall"] == 1.0
    assert s["f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_matching_is_one_to_one_and_maximal():
    # p1 overlaps both truths (IoU 0.82 each), p2 only the first (0.7): greedy p1 -> A would
    # leave p2 unmatched; the maximum matching pairs p1-B and p2-A
    truth = [("v", 1, 10), ("v", 3, 12)]
    pred = [("v", 2, 11), ("v", 1, 7)]
    s = spot_scores(pred, truth)["overall"]
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)


def test_counts_pool_over_videos_and_empty_videos_count():
    truth = [("a", 1, 10), ("b", 20, 30)]
    pred = [("a", 1, 10), ("c", 5, 9), ("c", 40, 50)]  # b: nothing spotted; c: no truth
    s = spot_scores(pred, truth)["overall"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 2, 1)
    assert s["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["recall"] == 0.5
    assert s["f1"] == pytest.approx(0.4, abs=1e-4)
    # the same frames in another video never match
    assert spot_scores([("b", 1, 10)], [("a", 1, 10)])["overall"]["tp"] == 0
    # nothing at all: every count and score 0
    assert spot_scores([], []) == {
        "overall": {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    }


def test_macro_and_micro_are_scored_apart_and_overall_sums_them():
    truth = [("v", 1, 100, "macro"), ("v", 200, 210, "micro"), ("w", 5, 15, "micro")]
    pred = [
        ("v", 1, 90, "macro"),  # TP macro
        ("v", 200, 210, "macro"),  # right frames, wrong kind: FP macro (and the micro is a FN)
        ("w", 6, 15, "micro"),  # TP micro
    ]
    s = spot_scores(pred, truth)
    assert (s["macro"]["tp"], s["macro"]["fp"], s["macro"]["fn"]) == (1, 1, 0)
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 0, 1)
    assert (s["overall"]["tp"], s["overall"]["fp"], s["overall"]["fn"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("pred", "message"),
    [
        ([("v", 10, 5)], "onset <= offset"),
        ([("v", 0, 5)], "onset <= offset"),
        ([("v", 1)], "expected (video, onset, offset"),
        ([("v", 1, 5, "blink")], "expected macro or micro"),
    ],
)
def test_bad_intervals_are_one_line_errors(pred, message):
    with pytest.raises(MicroexpError, match=message.replace("(", r"\(")):
        spot_scores(pred, [("v", 1, 5, "micro")] if len(pred[0]) == 4 else [("v", 1, 5)])


def test_kinds_given_to_some_intervals_only_is_an_error():
    with pytest.raises(MicroexpError, match="every interval or to none"):
        spot_scores([("v", 1, 5)], [("v", 1, 5, "micro")])


def test_chance_spotter_counts_random_placements():
    from microexp.evaluation.spotting import chance_scores

    # one 10-frame truth in a 20-frame video; a 10-frame prediction placed uniformly at one of
    # 11 starts matches (IoU >= 0.5) when it starts at frames 1-4 (4/11 of the draws): F1 is
    # 1 then, else 0
    f1 = chance_scores([("v", 5, 14)], [("v", 1, 10)], {"v": (1, 20)}, draws=4000)["overall"]
    assert f1 == pytest.approx(4 / 11, abs=0.03)
    # a prediction as long as the video always lands on the same frames
    full = chance_scores([("v", 1, 20)], [("v", 1, 20)], {"v": (1, 20)}, draws=10)
    assert full == {"overall": 1.0}
