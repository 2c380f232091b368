"""STR scoring (microexp.evaluation.strs), hand-computed: the MEGC evaluator's in-order
matching beside microexp's one-to-one one, its analysis F1, the published baseline's row."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from microexp.errors import MicroexpError
from microexp.evaluation.strs import strs

CLASSES = ["negative", "positive", "surprise"]


def _truth(*rows):
    return [("s1", "v1", a, b, label) for a, b, label in rows]


def test_one_prediction_over_two_truths_counts_twice_in_megc_once_one_to_one() -> None:
    truth = _truth((0, 4, "negative"), (5, 9, "positive"))
    out = strs([("s1", "v1", 0, 9, "negative")], truth, CLASSES)  # IoU 0.5 with each
    assert (out["spotting"]["tp"], out["spotting"]["fp"], out["spotting"]["fn"]) == (2, 0, 0)
    sb = out["spotting_bipartite"]
    assert (sb["tp"], sb["fp"], sb["fn"]) == (1, 0, 1)
    # analysis over both pairs: (negative -> negative), (positive -> negative)
    a = out["analysis"]
    assert (a["tp"], a["fp"], a["fn"]) == (1, 1, 1)
    assert a["precision"] == pytest.approx(0.5 / 3, abs=1e-4)  # negative 1/2, others 0
    assert a["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert a["f1"] == pytest.approx(2 / 9, abs=1e-4)  # 2PR/(P+R) = 0.2222
    assert a["uf1"] == pytest.approx(2 / 9, abs=1e-4)  # mean of 2/3, 0, 0
    assert (a["uar"], a["uar_evaluator"]) == (pytest.approx(1 / 3, abs=1e-4),
                                              pytest.approx(1 / 6, abs=1e-4))  # fmt: skip
    assert out["strs"] == pytest.approx(1.0 * 2 / 9, abs=1e-4)


def test_of_two_predictions_on_one_truth_the_first_in_order_is_the_tp() -> None:
    truth = _truth((10, 19, "surprise"))
    preds = [("s1", "v1", 10, 15, "negative"), ("s1", "v1", 10, 19, "surprise")]
    out = strs(preds, truth, CLASSES)
    assert (out["spotting"]["tp"], out["spotting"]["fp"], out["spotting"]["fn"]) == (1, 1, 0)
    assert out["analysis"]["tp"] == 0  # the first (IoU 0.6) claimed it, with a wrong label
    swapped = strs(preds[::-1], truth, CLASSES)
    assert swapped["analysis"]["tp"] == 1 and swapped["spotting"]["tp"] == 1


def test_the_published_megc2025_samm_baseline_row() -> None:
    """A prediction set shaped as the MEGC2025 baseline on SAMM (spotting 6/217/202; analysis
    over the 2 TPs of the three classes, one right) gives its published figures: spotting F1
    0.0278, analysis P 0.1667, R 0.3333, F1 0.2222, UF1 0.2222, "UAR" 0.1667, STRS 0.0062."""
    truth, preds = [], []
    for k in range(208):  # 6 spotted, 202 missed; 4 of the spotted are "others"
        label = {0: "negative", 1: "positive"}.get(k, "others")
        truth.append(("s1", f"v{k}", 100, 119, label))
        if k < 6:
            preds.append(("s1", f"v{k}", 100, 119, "negative"))
    preds += [("s1", f"v{k % 208}", 1000, 1009, "negative") for k in range(217)]
    out = strs(preds, truth, CLASSES)
    s, a = out["spotting"], out["analysis"]
    assert (s["tp"], s["fp"], s["fn"]) == (6, 217, 202)
    assert (s["precision"], s["recall"], s["f1"]) == (0.0269, 0.0288, 0.0278)
    assert (a["tp"], a["fp"], a["fn"]) == (1, 1, 1)
    assert (a["precision"], a["recall"], a["f1"], a["uf1"], a["uar_evaluator"]) == (
        0.1667, 0.3333, 0.2222, 0.2222, 0.1667)  # fmt: skip
    assert a["uar"] == 0.3333  # textbook UAR (mean recall), beside the evaluator's
    assert out["strs"] == 0.0062


def test_evaluator_quirks_are_reproduced_only_when_asked() -> None:
    truth = _truth((0, 9, "negative")) + [("s2", "v9", 0, 9, "positive")]
    preds = [("s1", "v1", 0, 9, "negative")]
    honest = strs(preds, truth, ["negative", "positive"])
    quirky = strs(preds, truth, ["negative", "positive"], evaluator_quirks=True)
    assert honest["spotting"]["fn"] == 1 and quirky["spotting"]["fn"] == 0  # s2 dropped
    # every analysed pair is (negative -> negative): one cell, which the evaluator scores 0
    assert honest["analysis"]["per_class"]["negative"]["f1"] == 1.0
    assert quirky["analysis"]["per_class"]["negative"]["f1"] == 0.0


def test_no_prediction_scores_zero_and_bad_rows_are_one_line() -> None:
    truth = _truth((0, 9, "negative"))
    empty = strs([], truth, CLASSES)
    assert empty["strs"] == 0.0 and empty["spotting"]["fn"] == 1 and empty["predictions"] == 0
    for rows, message in (
        ([("s1", "v2", 0, 9, "negative")], "prediction row 0: video s1/v2 is not in the ground"),
        ([("s1", "v1", 9, 3, "negative")], "prediction row 0: s1/v1 9-3: expected onset <= "),
        ([("s1", "v1", 0, 9, "happy")], "prediction row 0: label 'happy' is not one of"),
        ([("s1", "v1", 0, 9)], "prediction row 0: ('s1', 'v1', 0, 9): expected (subject"),
    ):
        with pytest.raises(MicroexpError, match=re.escape(message)) as caught:
            strs(rows, truth, CLASSES)
        assert "\n" not in str(caught.value)


EVALUATOR = os.environ.get("MICROEXP_STRS_EVALUATOR")  # a checkout of genbing99/STRS-Metric


@pytest.mark.skipif(
    not EVALUATOR, reason="set MICROEXP_STRS_EVALUATOR to a checkout of genbing99/STRS-Metric"
)
def test_the_public_evaluators_own_sample_files() -> None:
    """Its data/pred.csv and data/gt.csv (not copied here): the figures its strs_metric.py
    prints for them (run with pandas 1.5: spotting 159/85/85, F1 0.6516; analysis P 0.5983,
    R 0.5872, F1 0.5927, UF1 0.5766; STRS 0.3862)."""

    def rows(name: str) -> list[tuple]:
        with open(Path(EVALUATOR) / "data" / name, newline="") as fh:
            return [tuple(r[k] for k in ("subject", "video", "onset", "offset", "emotion"))
                    for r in csv.DictReader(fh)]  # fmt: skip

    out = strs(rows("pred.csv"), rows("gt.csv"), evaluator_quirks=True)
    s, a = out["spotting"], out["analysis"]
    assert (s["tp"], s["fp"], s["fn"], s["f1"]) == (159, 85, 85, 0.6516)
    assert (a["precision"], a["recall"], a["f1"], a["uf1"]) == (0.5983, 0.5872, 0.5927, 0.5766)
    assert out["strs"] == 0.3862


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_str_files_bad_rows_are_named_by_file_and_line(tmp_path) -> None:
    from microexp.evaluation.strs import strs_files

    gt = _write(tmp_path / "gt.csv", "subject,video,onset,offset,emotion\n1,v1,10,20,negative\n")
    good = _write(tmp_path / "p.csv", "subject,video,onset,offset,emotion\n1,v1,10,20,negative\n")
    assert strs_files(good, gt)["strs"] == 1.0
    cases = {
        "1,v9,10,20,negative\n": r"p\.csv line 3: video 1/v9 is not in the ground truth",
        "1,v1,30,20,negative\n": r"p\.csv line 3: 1/v1 30-20: expected onset <= offset",
        "1,v1,10,20,joy\n": r"p\.csv line 3: label 'joy' is not one of negative",
        "1,v1,ten,20,negative\n": r"p\.csv line 3: onset 'ten' and offset '20' must be frame",
        "1,v1,10,,negative\n": r"p\.csv line 3: expected five non-empty cells",
    }
    head = "subject,video,onset,offset,emotion\n1,v1,10,20,negative\n"
    for row, message in cases.items():
        bad = _write(tmp_path / "p.csv", head + row)
        with pytest.raises(MicroexpError, match=message):
            strs_files(bad, gt)
    with pytest.raises(MicroexpError, match=r"expected the columns .*; missing emotion"):
        strs_files(_write(tmp_path / "p.csv", "subject,video,onset,offset\n"), gt)
    with pytest.raises(MicroexpError, match=r"nothing\.csv: prediction file does not exist"):
        strs_files(tmp_path / "nothing.csv", gt)
    empty = strs_files(_write(tmp_path / "p.csv", "subject,video,onset,offset,label\n"), gt)
    assert (empty["strs"], empty["predictions"], empty["spotting"]["fn"]) == (0.0, 0, 1)


def test_strs_cli_prints_scores_and_refuses_bad_files_in_one_line(tmp_path, capsys) -> None:
    from microexp.cli import main

    gt = _write(tmp_path / "gt.csv", "subject,video,onset,offset,emotion\n1,v1,10,20,negative\n")
    pred = _write(tmp_path / "p.csv", "subject,video,onset,offset,emotion\n1,v1,11,20,positive\n")
    assert main(["strs", str(pred), str(gt), "--classes", "negative,positive"]) == 0
    out = capsys.readouterr().out
    assert "spotting: TP 1 FP 0 FN 0, F1 1.0000" in out and "STRS 0.0000" in out
    bad = _write(tmp_path / "b.csv", "subject,video,onset,offset,emotion\n1,v2,11,20,negative\n")
    assert main(["strs", str(bad), str(gt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "b.csv line 2: video 1/v2 is not in the ground truth" in err[0]
