from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from conftest import clip, frames

from microexp import datasets as ds
from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.synthetic import layout
from microexp.synthetic.layout import Clip

# ------------------------------------------------------------------------------------- CASME II


def casme2_tree(root: Path, frames_kind: str = "raw_selected") -> Path:
    clips = [
        clip(1, "EP02_01f", "happiness", first=46, onset=46, apex=48, offset=50),
        clip(1, "EP19_05f", "disgust", onset=1, apex=3, offset=5),
        clip(2, "EP01_11f", "others", onset=1, apex=2, offset=4),
        clip(4, "EP12_01f", "repression", onset=1, apex="/", offset=5),  # apex '/'
        clip(7, "EP06_01", "surprise", n=36, first=56, onset=15, apex=60, offset=68),  # corrected
        clip(3, "EP05_02", "fear", onset=1, apex=2, offset=4),
        clip(3, "EP06_03", "disgust", onset=1, apex=2, offset=40),  # frames missing
        clip(9, "EP02_02f", "others", annotated=False),  # folder without a row
        Clip(5, "EP09_09", "sadness", None, onset=1, apex=2, offset=3),  # row without folder
    ]
    return layout.write_casme2(root, clips, frames_kind=frames_kind)


def test_casme2_loads_quirks(tmp_root: Path) -> None:
    casme2_tree(tmp_root)
    r = ds.load("casme2", tmp_root)
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == sorted(
        [
            "casme2/sub01/EP02_01f",
            "casme2/sub01/EP19_05f",
            "casme2/sub02/EP01_11f",
            "casme2/sub04/EP12_01f",
            "casme2/sub07/EP06_01",
            "casme2/sub03/EP05_02",
        ]
    )
    s = by_id["casme2/sub01/EP02_01f"]
    assert (s.subject, s.onset, s.apex, s.offset, s.fps) == ("sub01", 46, 48, 50, 200.0)
    assert s.frame_pattern == "img{:d}.jpg" and s.frame_path(47).is_file()
    assert by_id["casme2/sub04/EP12_01f"].apex is None
    corrected = by_id["casme2/sub07/EP06_01"]
    assert (corrected.onset, corrected.apex, corrected.offset) == (56, 60, 91)
    excluded = {e.sample: e.reason for e in r.excluded}
    assert "casme2/sub03/EP06_03" in excluded and "offset 40" in excluded["casme2/sub03/EP06_03"]
    assert "casme2/sub05/EP09_09" in excluded and "not found" in excluded["casme2/sub05/EP09_09"]
    assert [e.sample for e in r.ignored] == ["casme2/sub09/EP02_02f"]
    assert any("onset 15 corrected to 56" in n.reason for n in r.notes)
    assert not r.synthetic


def test_repeated_and_conflicting_rows_are_excluded(tmp_root: Path) -> None:
    """A row repeated in the coding sheet is not a second sample; two rows that annotate one
    clip differently leave it out, since neither can be trusted over the other."""
    first = clip(1, "EP02_01f", "happiness", onset=1, apex=3, offset=5)
    other = clip(2, "EP01_11f", "others", onset=1, apex=2, offset=4)
    layout.write_casme2(
        tmp_root,
        [
            first,
            first,
            other,
            dataclasses.replace(other, apex=3),
            other,
            clip(3, "EP05_02", "fear"),
        ],
    )
    r = ds.load("casme2", tmp_root)
    assert sorted(s.id for s in r.samples) == ["casme2/sub01/EP02_01f", "casme2/sub03/EP05_02"]
    excluded = {e.sample: e.reason for e in r.excluded}
    assert excluded["casme2/sub01/EP02_01f"].startswith("repeats an earlier row (")
    assert "row 3)" in excluded["casme2/sub01/EP02_01f"]
    assert excluded["casme2/sub02/EP01_11f"].startswith("two rows annotate this clip differently")
    assert "row 6)" in excluded["casme2/sub02/EP01_11f"]  # a third row does not bring it back


def test_casme2_correction_only_when_frames_match(tmp_root: Path) -> None:
    # sub07/EP06_01 on disk 56..91 as in the real release: onset and offset both corrected
    layout.write_casme2(
        tmp_root, [clip(7, "EP06_01", "surprise", n=36, first=56, onset=15, apex=60, offset=68)]
    )
    (s,) = ds.load("casme2", tmp_root).samples
    assert (s.onset, s.apex, s.offset) == (56, 60, 91)


@pytest.mark.parametrize("kind", ["raw", "cropped"])
def test_casme2_frame_folder_variants(tmp_root: Path, kind: str) -> None:
    casme2_tree(tmp_root, frames_kind=kind)
    r = ds.load("casme2", tmp_root)
    assert len(r.samples) == 6
    prefix = "reg_img" if kind == "cropped" else "img"
    assert all(s.frame_pattern == prefix + "{:d}.jpg" for s in r.samples)


def test_casme2_protocol_5class(tmp_root: Path) -> None:
    casme2_tree(tmp_root)
    (r,) = ds.load_protocol("casme2-5class", {"casme2": tmp_root})
    labels = sorted(s.label for s in r.samples)
    assert labels == ["disgust", "happiness", "others", "repression", "surprise"]
    assert any(e.sample == "casme2/sub03/EP05_02" and "'fear'" in e.reason for e in r.excluded)


def test_casme2_unknown_label_names_sample(tmp_root: Path) -> None:
    layout.write_casme2(tmp_root, [clip(1, "EP01_01", "joyful", onset=1, apex=2, offset=5)])
    with pytest.raises(MicroexpError, match=r"sub01/EP01_01 has unknown emotion label 'joyful'"):
        ds.load_protocol("casme2-5class", {"casme2": tmp_root})


def test_casme2_missing_columns(tmp_root: Path) -> None:
    path = tmp_root / "CASME2-coding-20140508.xlsx"
    layout.write_sheet(
        path, "Sheet1", ["Subject", "Filename", "Emotion"], [["01", "EP01", "happiness"]]
    )
    layout.save_frames(
        tmp_root / "CASME2_RAW_selected" / "sub01" / "EP01", "img{:d}.jpg", [1, 2], frames(2)
    )
    with pytest.raises(MicroexpError) as err:
        ds.load("casme2", tmp_root)
    msg = str(err.value)
    assert str(path) in msg and "OnsetFrame" in msg and "\n" not in msg


def test_casme2_unreadable_spreadsheet(tmp_root: Path) -> None:
    casme2_tree(tmp_root)
    (tmp_root / "CASME2-coding-20140508.xlsx").write_bytes(b"this is not a spreadsheet")
    with pytest.raises(MicroexpError, match="unreadable spreadsheet"):
        ds.load("casme2", tmp_root)


def test_missing_annotation_and_root(tmp_path: Path) -> None:
    with pytest.raises(MicroexpError, match="root does not exist"):
        ds.load("casme2", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MicroexpError, match="no CASME II coding file"):
        ds.load("casme2", tmp_path / "empty")
    with pytest.raises(MicroexpError, match="unknown dataset 'casme4'"):
        ds.load("casme4", tmp_path)
    with pytest.raises(MicroexpError, match="unknown protocol"):
        ds.get_protocol("casme2-7class")


# ----------------------------------------------------------------------------------------- SAMM


def samm_clips() -> list[Clip]:
    return [
        clip(6, "006_1_2", "anger", first=5562, onset=5562, apex=5564, offset=5566),
        clip(6, "006_1_3", "other", onset=1, apex=3, offset=5),
        clip(28, "028_4_1", "happiness", first=1130, onset=1130, apex=1134, offset=1133),
        clip(11, "011_2_1", "surprise", onset=1, apex=2, offset=5),
    ]


@pytest.mark.parametrize("notes", [13, 0])
def test_samm_header_found_by_content(tmp_root: Path, notes: int) -> None:
    layout.write_samm(tmp_root, samm_clips(), note_rows=notes)
    r = ds.load("samm", tmp_root)
    assert sorted(s.id for s in r.samples) == [
        "samm/006/006_1_2",
        "samm/006/006_1_3",
        "samm/011/011_2_1",
        "samm/028/028_4_1",
    ]
    s = next(s for s in r.samples if s.clip == "006_1_2")
    assert s.frame_pattern == "006_{:05d}.jpg" and s.frame_path(5563).is_file()
    assert {s.label for s in r.samples} == {"anger", "other", "happiness", "surprise"}
    assert any("apex 1134 outside" in n.reason for n in r.notes)


def test_samm_not_merged_with_casme2_subject(tmp_path: Path) -> None:
    layout.write_samm(tmp_path / "samm", [clip(6, "006_1_2", "anger", onset=1, apex=2, offset=5)])
    layout.write_casme2(
        tmp_path / "c2", [clip(6, "EP01_01", "happiness", onset=1, apex=2, offset=5)]
    )
    samples = (
        ds.load("samm", tmp_path / "samm").samples + ds.load("casme2", tmp_path / "c2").samples
    )
    folds = ds.loso_folds(samples)
    assert [f.test_subject for f in folds] == ["casme2/sub06", "samm/006"]
    for f in folds:
        assert set(f.train).isdisjoint(f.test)
        assert {samples[i].subject_key for i in f.test} == {f.test_subject}
        assert f.test_subject not in {samples[i].subject_key for i in f.train}


# ----------------------------------------------------------------------------------------- CK+


def test_ckplus_unlabelled_is_not_a_sample(tmp_root: Path) -> None:
    layout.write_ckplus(
        tmp_root,
        [
            clip(5, "001", "3", n=11),
            clip(5, "002", "7", n=6),
            clip(10, "001", "5", n=4),
            clip(10, "002", "0", n=4, annotated=False),
        ],
    )
    r = ds.load("ckplus", tmp_root)
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == ["ckplus/S005/001", "ckplus/S005/002", "ckplus/S010/001"]
    s = by_id["ckplus/S005/001"]
    assert (s.label, s.onset, s.apex, s.offset) == ("disgust", 1, 11, 11)
    assert s.frame_pattern == "S005_001_{:08d}.png"
    assert [e.sample for e in r.ignored] == ["ckplus/S010/002"]
    (p,) = ds.load_protocol("ckplus-7class", {"ckplus": tmp_root})
    assert sorted(s.label for s in p.samples) == ["disgust", "happy", "surprise"]


def test_ckplus_bad_emotion_file(tmp_root: Path) -> None:
    layout.write_ckplus(tmp_root, [clip(5, "001", "3", n=3)])
    bad = next((tmp_root / "Emotion").rglob("*_emotion.txt"))
    bad.write_text("9.0000000e+00\n")
    with pytest.raises(MicroexpError, match=r"_emotion.txt: unknown CK\+ emotion code 9"):
        ds.load("ckplus", tmp_root)


# ---------------------------------------------------------------------------------- CASME, SMIC


def test_casme_sections_and_spelling(tmp_root: Path) -> None:
    layout.write_casme(
        tmp_root,
        [
            clip(1, "EP01_5", "comtempt", onset=1, apex=2, offset=4),
            clip(3, "EP02_1", "happiness", onset=1, apex=2, offset=5),
            clip(8, "EP03_2", "disgust", onset=2, apex=3, offset=5),
            clip(12, "EP07_1", "tense", onset=1, apex=2, offset=5),
        ],
    )
    r = ds.load("casme", tmp_root)
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == [
        "casme/sub01/EP01_5",
        "casme/sub03/EP02_1",
        "casme/sub08/EP03_2",
        "casme/sub12/EP07_1",
    ]
    assert by_id["casme/sub01/EP01_5"].label == "contempt"
    assert by_id["casme/sub08/EP03_2"].frame_pattern == "EP03_2-{:d}.jpg"
    assert by_id["casme/sub08/EP03_2"].fps == 60.0


def test_smic_ids_normalised(tmp_root: Path) -> None:
    layout.write_smic(
        tmp_root,
        [
            clip(1, "s1_ne_01", "negative", n=7),
            clip(1, "s1_po_02", "positive"),
            clip(2, "s2_sur_1", "surprise"),
        ],
    )
    r = ds.load("smic", tmp_root)
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == ["smic/s01/s01_ne_01", "smic/s01/s01_po_02", "smic/s02/s02_sur_01"]
    s = by_id["smic/s01/s01_ne_01"]
    assert (s.onset, s.apex, s.offset, s.frame_pattern) == (1, 4, 7, "image{:06d}.bmp")
    assert Path(s.frames_dir).name == "s1_ne_01"


# ------------------------------------------------------------------------------------ protocols


def test_megc2019_manifest_counts() -> None:
    ids = ds.protocols.read_ids("megc2019_ids.csv")
    assert len(ids) == 442
    assert len({k.rsplit("/", 1)[0] for k in ids}) == 68
    counts: dict[str, list[int]] = {}
    for sid, label in ids.items():
        c = counts.setdefault(sid.split("/")[0], [0, 0, 0])
        c[["negative", "positive", "surprise"].index(label)] += 1
    assert counts == {"smic": [70, 51, 43], "casme2": [88, 32, 25], "samm": [92, 26, 15]}
    subjects = {d: len({k.split("/")[1] for k in ids if k.startswith(d)}) for d in counts}
    assert subjects == {"smic": 16, "casme2": 24, "samm": 28}
    assert "samm/006/006_1_2" in ids and "smic/s01/s01_ne_01" in ids


def test_megc2019_protocol_on_tree(tmp_path: Path) -> None:
    layout.write_casme2(
        tmp_path / "c2",
        [
            clip(1, "EP02_01f", "happiness", onset=1, apex=2, offset=5),  # listed: positive
            clip(1, "EP19_05f", "disgust", onset=1, apex=2, offset=5),  # listed: negative
            clip(1, "EP01_01", "others", onset=1, apex=2, offset=5),  # not listed
            clip(4, "EP12_01f", "repression", onset=1, apex="/", offset=5),  # excluded by name
        ],
    )
    layout.write_samm(tmp_path / "samm", [clip(6, "006_1_2", "anger", onset=1, apex=2, offset=5)])
    layout.write_smic(tmp_path / "smic", [clip(1, "s1_ne_01", "negative")])
    roots = {"casme2": tmp_path / "c2", "samm": tmp_path / "samm", "smic": tmp_path / "smic"}
    merged = ds.merge(ds.load_protocol("megc2019", roots), "megc2019")
    got = {s.id: s.label for s in merged.samples}
    assert got == {
        "casme2/sub01/EP02_01f": "positive",
        "casme2/sub01/EP19_05f": "negative",
        "samm/006/006_1_2": "negative",
        "smic/s01/s01_ne_01": "negative",
    }
    reasons = {e.sample: e.reason for e in merged.excluded}
    assert "apex annotated as '/'" in reasons["casme2/sub04/EP12_01f"]
    assert "not in the published list" in reasons["casme2/sub01/EP01_01"]
    missing = [k for k, v in reasons.items() if "not found" in v]
    assert len(missing) == 442 - 4 and "smic/s20/s20_sur_03" in missing


def test_atscnn_composite_casme_rule(tmp_path: Path) -> None:
    layout.write_casme(
        tmp_path / "casme",
        [
            clip(1, "EP01_5", "repression", onset=1, apex=2, offset=4),
            clip(2, "EP02_1", "fear", onset=1, apex=2, offset=4),
            clip(9, "EP03_1", "happiness", onset=1, apex=2, offset=4),
        ],
    )
    (r,) = ds.load_protocol("atscnn-composite", {"casme": tmp_path / "casme"}, ["casme"])
    assert {s.id: s.label for s in r.samples} == {
        "casme/sub01/EP01_5": "negative",
        "casme/sub09/EP03_1": "positive",
    }
    with pytest.raises(MicroexpError, match="needs a root for 'casme2'"):
        ds.load_protocol("atscnn-composite", {"casme": tmp_path / "casme"})


def test_protocols_validate() -> None:
    for name in ds.protocol_names():
        p = ds.get_protocol(name)
        assert p.classes and p.datasets
    assert ds.protocol_names() == [
        "4dme-5class", "atscnn-composite", "casme2-5class", "casme3-3class", "casme3-4class", "casme3-7class",
        "ckplus-7class", "megc2019", "mmew-7class",
    ]  # fmt: skip


# ---------------------------------------------------------------------------- custom protocols


def write_protocol(path: Path, **changes: object) -> Path:
    """A user's protocol file for casme2 (classes pos, neg), with ``changes`` to its fields."""
    raw = {
        "name": "mine",
        "classes": ["pos", "neg"],
        "datasets": {"casme2": {"map": {"happiness": "pos", "disgust": "neg"}, "drop": ["others"]}},
        **changes,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw))
    return path


def one_line_error(call, *args: object) -> str:
    with pytest.raises(MicroexpError) as err:
        call(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize(
    "classes, needle",
    [
        (["pos", "neg", "neg"], "classes lists 'neg' more than once"),
        ("abc", 'classes is a string "abc"; expected a list of unique non-empty class names'),
        ([], "classes is empty; expected at least one class name"),
        (["pos", "neg", ""], "expected a list of unique non-empty class names"),
        (["pos", "neg", 3], "expected a list of unique non-empty class names"),
        (["pos", "neg", "neutral"], "no dataset's map or ids file gives class 'neutral'"),
    ],
)
def test_custom_protocol_classes(tmp_path: Path, classes: object, needle: str) -> None:
    """A repeated, empty or unreachable class would be a model output no sample ever has."""
    path = write_protocol(tmp_path / "p.json", classes=classes)
    msg = one_line_error(ds.get_protocol, str(path))
    assert msg.startswith(f"{path}: ") and needle in msg


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"datasets": {"casme2": {"map": ["happiness"]}}}, "datasets.casme2: map is a list"),
        ({"datasets": {"casme2": {"map": {}}}}, "datasets.casme2: map is empty"),
        ({"datasets": {}}, "datasets is empty"),
        ({"datasets": ["casme2"]}, "datasets is a list"),
        ({"datasets": {"casme2": "x"}}, "datasets.casme2 is a string"),
        (
            {"datasets": {"casme2": {"map": {"happiness": "pos", "fear": "neg"}, "drop": "xy"}}},
            "datasets.casme2.drop is a string",
        ),
        (
            {
                "datasets": {
                    "casme2": {"map": {"happiness": "pos", "fear": "neg"}, "drop": ["fear"]}
                }
            },
            "'fear' both mapped and dropped",
        ),
        ({"exclude": {"casme2/sub01/EP01": "x"}}, "exclude is an object"),
        ({"name": None}, "missing 'name'"),
    ],
)
def test_custom_protocol_malformed(tmp_path: Path, changes: dict, needle: str) -> None:
    path = write_protocol(tmp_path / "p.json", **changes)
    msg = one_line_error(ds.get_protocol, str(path))
    assert msg.startswith(f"{path}: ") and needle in msg


def test_protocol_file_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that is not a file says so; a JSON list is not an object."""
    missing = tmp_path / "missing.json"
    assert (
        one_line_error(ds.get_protocol, str(missing)) == f"{missing}: protocol file does not exist"
    )
    assert "shipped protocol is named 'megc2019'" in one_line_error(
        ds.get_protocol, "megc2019.json"
    )
    assert "protocol file is not a file" in one_line_error(ds.get_protocol, str(tmp_path) + "/")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert f"{listed}: expected a JSON object" in one_line_error(ds.get_protocol, str(listed))
    argv = ["data", "summary", "--dataset", "casme2", "--root", str(tmp_path)]
    assert main([*argv, "--protocol", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "protocol file does not exist" in err and err.count("\n") == 1


def test_custom_protocol_ids_beside_the_file(
    tmp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative ``ids`` is read beside the protocol file whatever the working folder; a
    shipped list's name still works."""
    casme2_tree(tmp_root)
    ids = "dataset,subject,clip,label\ncasme2,sub01,EP02_01f,neg\ncasme2,sub01,EP19_05f,neg\n"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "myids.csv").write_text(ids)
    drop = ["others", "repression", "surprise", "fear"]
    rule = {"map": {"happiness": "pos", "disgust": "neg"}, "drop": drop}
    path = write_protocol(
        tmp_path / "mine" / "p.json", datasets={"casme2": {**rule, "ids": "myids.csv"}}
    )
    monkeypatch.chdir(tmp_root)
    (r,) = ds.load_protocol(str(path), {"casme2": tmp_root})
    assert {s.id: s.label for s in r.samples} == {
        "casme2/sub01/EP02_01f": "neg",
        "casme2/sub01/EP19_05f": "neg",
    }
    assert any("myids.csv labels it 'neg'" in n.reason for n in r.notes)
    shipped = write_protocol(
        tmp_path / "s.json",
        classes=["negative", "positive", "surprise"],
        datasets={"casme2": {"map": {"happiness": "positive"}, "ids": "megc2019_ids.csv"}},
    )
    assert ds.get_protocol(str(shipped)).datasets["casme2"].ids == "megc2019_ids.csv"


@pytest.mark.parametrize(
    "csv_text, needle",
    [
        ("ds,subject,clip,label\ncasme2,sub01,EP01,pos\n", "myids.csv: missing column dataset"),
        ("dataset,subject,clip,label\ncasme2,sub01,EP01,pos\ncasme2,sub01,EP02,joy\n",
         "myids.csv line 3: label 'joy' is not a class of the protocol (expected one of: pos, neg)"),
        ("dataset,subject,clip,label\ncasme2,sub01,EP01,pos\ncasme2,sub01,EP01,neg\n",
         "myids.csv line 3: sample casme2/sub01/EP01 is listed twice"),
        ("dataset,subject,clip,label\ncasme2,sub01,,pos\n", "myids.csv line 2: expected a"),
        (None, "ids file 'myids.csv' is neither beside the protocol"),
    ],
)  # fmt: skip
def test_custom_protocol_bad_ids(tmp_path: Path, csv_text: str | None, needle: str) -> None:
    if csv_text is not None:
        (tmp_path / "myids.csv").write_text(csv_text)
    rule = {"map": {"happiness": "pos", "disgust": "neg"}, "ids": "myids.csv"}
    path = write_protocol(tmp_path / "p.json", datasets={"casme2": rule})
    assert needle in one_line_error(ds.get_protocol, str(path))


def test_apply_protocol_checks_ids_labels_and_empty_rules(tmp_root: Path, tmp_path: Path) -> None:
    """A Protocol built in Python is checked where it is applied: an id list's label outside
    the classes, and a rule that maps and drops nothing, are one-line errors."""
    casme2_tree(tmp_root)
    (tmp_path / "ids.csv").write_text("dataset,subject,clip,label\ncasme2,sub01,EP02_01f,joy\n")
    result = ds.load("casme2", tmp_root)
    rule = ds.protocols.DatasetRule(map={"happiness": "pos"}, ids=str(tmp_path / "ids.csv"))
    proto = ds.Protocol("mine", "", ("pos",), {"casme2": rule})
    msg = one_line_error(ds.apply_protocol, result, proto)
    assert f"{tmp_path / 'ids.csv'} line 2: label 'joy' is not a class" in msg
    empty = ds.Protocol("mine", "", ("pos",), {"casme2": ds.protocols.DatasetRule(map={})})
    assert "expects one of: (none: empty map)" in one_line_error(ds.apply_protocol, result, empty)


# --------------------------------------------------------------------- loader options and roots


@pytest.mark.parametrize("name", ["casme3", "mmew", "4dme"])
@pytest.mark.parametrize("fps", ["fast", [30], -30, 0, float("nan"), float("inf"), True, "30"])
def test_loader_fps_is_a_positive_number(tmp_path: Path, name: str, fps: object) -> None:
    msg = one_line_error(lambda: ds.load(name, tmp_path, fps=fps))
    assert msg == f"{name}.fps={fps!r}: expected a positive finite number of frames per second"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("casme2=/a,casme2=/b", "--data 'casme2=/a,casme2=/b': dataset 'casme2' named twice"),
        ("casme9=/a", "unknown dataset 'casme9'; expected one of: 4dme, casme, casme2,"),
        ("casme2=", "expected name=DIR,name=DIR"),
        ("=/a", "expected name=DIR,name=DIR"),
    ],
)
def test_parse_roots_refuses_unknown_and_repeated(text: str, needle: str) -> None:
    assert needle in one_line_error(ds.parse_roots, text)
    assert ds.parse_roots("casme2=/a, samm = ~/b") == {
        "casme2": Path("/a"),
        "samm": Path("~/b").expanduser(),
    }


# ------------------------------------------------------------------------------------- records


def test_sample_csv_roundtrip(tmp_root: Path, tmp_path: Path) -> None:
    casme2_tree(tmp_root)
    samples = ds.load("casme2", tmp_root).samples
    out = tmp_path / "samples.csv"
    ds.write_samples_csv(samples, out)
    assert ds.read_samples_csv(out) == samples
    out.write_text("dataset,subject\ncasme2,sub01\n")
    with pytest.raises(MicroexpError, match="not a sample CSV"):
        ds.read_samples_csv(out)


# ----------------------------------------------------------------------------------------- CLI


def test_cli_summary_json(tmp_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    casme2_tree(tmp_root)
    assert main(["data", "summary", "--dataset", "casme2", "--root", str(tmp_root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "casme2" and out["protocol"] is None
    assert out["samples"] == 6 and out["subjects"] == 5
    assert out["classes"] == {
        "disgust": 1,
        "fear": 1,
        "happiness": 1,
        "others": 1,
        "repression": 1,
        "surprise": 1,
    }
    assert {e["sample"] for e in out["excluded"]} == {
        "casme2/sub03/EP06_03",
        "casme2/sub05/EP09_09",
    }
    assert (
        main(
            [
                "data",
                "summary",
                "--dataset",
                "casme2",
                "--root",
                str(tmp_root),
                "--protocol",
                "casme2-5class",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "casme2-5class" and "fear" not in out["classes"]


def test_cli_summary_table(tmp_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    casme2_tree(tmp_root)
    assert main(["data", "summary", "--dataset", "casme2", "--root", str(tmp_root)]) == 0
    text = capsys.readouterr().out
    assert "6 samples from 5 subjects" in text and "excluded (2):" in text


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["data", "summary", "--dataset", "casme2", "--root", "/no/such/dir"],
            "/no/such/dir: casme2 root does not exist",
        ),
        (["data", "summary", "--dataset", "casme9", "--root", "/tmp"], "unknown dataset 'casme9'"),
        (
            ["data", "summary", "--dataset", "casme2", "--root", "/tmp", "--protocol", "x"],
            "unknown protocol 'x'",
        ),
        (["data", "summary", "--dataset", "casme2"], "--root"),
        (["data", "frobnicate"], "invalid choice"),
    ],
)
def test_cli_errors_one_line_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1


def test_cli_help_on_each_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["data", "--help"], ["data", "summary", "--help"]):
        assert main(argv) == 0
        assert "usage:" in capsys.readouterr().out


def test_cli_composite_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout.write_casme2(
        tmp_path / "c2", [clip(1, "EP02_01f", "happiness", onset=1, apex=2, offset=5)]
    )
    layout.write_samm(tmp_path / "samm", [clip(6, "006_1_2", "anger", onset=1, apex=2, offset=5)])
    shutil.copytree(tmp_path / "samm", tmp_path / "samm2")
    layout.write_smic(tmp_path / "smic", [clip(1, "s1_ne_01", "negative")])
    argv = ["data", "summary", "--protocol", "megc2019", "--json"]
    for name in (
        "casme2=" + str(tmp_path / "c2"),
        "samm=" + str(tmp_path / "samm"),
        "smic=" + str(tmp_path / "smic"),
    ):
        argv += ["--root", name]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "megc2019" and out["samples"] == 3 and out["subjects"] == 3
    assert out["classes"] == {"negative": 2, "positive": 1}
    assert main([*argv, "--root", "samm=" + str(tmp_path / "samm2")]) == 2  # last would win
    err = capsys.readouterr().err
    assert "dataset 'samm' named twice" in err and err.count("\n") == 1


def _write_jpgs(folder: Path, numbers: range) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for n, img in zip(numbers, frames(len(numbers)), strict=True):
        cv2.imwrite(str(folder / f"{n}.jpg"), img)


def casme3_tree(root: Path, rows: int = 752, layout_kind: str = "video") -> Path:
    """CAS(ME)^3 Part A in the release's layout: every annotation cell text; spNO.1 video a
    holds two MEs; one 'Others'; data row 750 is the wrong spNO.216/e row (onset = apex = 0)
    that the corrections fix; the filler rows name a subject with no frames."""
    from openpyxl import Workbook

    data = {  # data row -> (subject, video, onset, apex, offset, emotion)
        0: ("spNO.1", "a", 10, 12, 15, "disgust"),
        1: ("spNO.1", "a", 30, 33, 36, "happy"),
        2: ("spNO.2", "J", 5, 7, 9, "Others"),
        3: ("spNO.2", "b", 1, 2, 4, "surprise"),
        750: ("spNO.216", "e", 0, 0, 6, "sad"),
    }
    wb = Workbook()
    ws = wb.active
    ws.title = "label"
    ws.append(
        ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    )
    for i in range(rows):
        subj, video, on, ap, off, emo = data.get(i, ("spNO.99", "a", 1, 2, 3, "fear"))
        ws.append([subj, video, str(on), str(ap), str(off), "R12+4", "1", emo])
    wb.create_sheet("Sheet1")
    root.mkdir(parents=True, exist_ok=True)
    wb.save(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    for subj, video, on, _, off, _ in data.values():
        first = max(on, 1)
        if layout_kind == "video":
            folder = root / "part_A" / "data" / subj / video.lower() / "color"
        else:
            folder = root / "Part_A_ME_clip" / "frame" / f"{subj}_{video}_{on}"
        _write_jpgs(folder, range(first, off + 1))
    return root


@pytest.mark.parametrize("layout_kind", ["video", "clips"])
def test_casme3_quirks_corrections_and_protocols(tmp_path: Path, layout_kind: str, capsys) -> None:
    root = casme3_tree(tmp_path / "casme3", layout_kind=layout_kind)
    r = ds.load("casme3", root)
    got = {s.id: s for s in r.samples}
    assert set(got) == {
        "casme3/spNO.1/a_10", "casme3/spNO.1/a_30", "casme3/spNO.2/J_5", "casme3/spNO.2/b_1",
        "casme3/spNO.216/e_0",
    }  # fmt: skip
    assert got["casme3/spNO.2/J_5"].label == "others"  # 'Others' and 'others' are one class
    fixed = got["casme3/spNO.216/e_0"]
    assert (fixed.onset, fixed.apex, fixed.offset) == (1, 1, 6)
    assert any("onset 0 corrected to 1" in n.reason for n in r.notes)
    assert any("30 fps" in n.reason for n in r.notes)
    assert len(r.excluded) == 752 - 5 and all("frames missing" in e.reason for e in r.excluded)
    three = ds.load_protocol("casme3-3class", {"casme3": root})[0]
    assert sorted(s.label for s in three.samples) == [
        "negative",
        "negative",
        "positive",
        "surprise",
    ]
    four = ds.load_protocol("casme3-4class", {"casme3": root})[0]
    assert sorted(s.label for s in four.samples).count("others") == 1
    assert main(["data", "summary", "--dataset", "casme3", "--root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 5
    argv = ["data", "summary", "--protocol", "casme3-3class", "--root", f"casme3={root}"]
    assert main([*argv, "--json"]) == 0
    got3 = json.loads(capsys.readouterr().out)
    assert got3["samples"] == 4 and got3["expected"]["samples"] == 699
    assert main(argv) == 0
    assert "(a full copy: 699 samples)" in capsys.readouterr().out


def test_casme3_depth_frames_on_request(tmp_path: Path) -> None:
    """``frames="depth"`` reads the 16-bit depth PNGs beside the colour frames, under clip ids
    of their own; read_frames scales a clip's depth to 0-255 with one scale for all frames."""
    import cv2
    import numpy as np

    from microexp.preprocess import read_frames

    root = casme3_tree(tmp_path / "casme3", rows=4)
    depth = root / "part_A" / "data" / "spNO.1" / "a" / "depth"
    depth.mkdir()
    for n in range(10, 37):
        cv2.imwrite(str(depth / f"{n}.png"), np.full((8, 8), 600 + 10 * n, np.uint16))
    r = ds.load("casme3", root, frames="depth")
    got = {s.id: s for s in r.samples}
    assert set(got) == {"casme3/spNO.1/a_10.depth", "casme3/spNO.1/a_30.depth"}
    assert (got["casme3/spNO.1/a_10.depth"].onset, got["casme3/spNO.1/a_10.depth"].offset) == (
        10,
        15,
    )
    assert any("spNO.2" in e.sample and "frames missing" in e.reason for e in r.excluded)
    x = read_frames(got["casme3/spNO.1/a_10.depth"])
    assert x.dtype == np.uint8 and x.shape == (6, 8, 8)
    assert x[:, 0, 0].tolist() == [0, 51, 102, 153, 204, 255]  # 700..750 mm, one scale
    color = ds.load("casme3", root)
    assert {s.id for s in color.samples} >= {"casme3/spNO.1/a_10", "casme3/spNO.1/a_30"}
    with pytest.raises(MicroexpError, match="'color' or 'depth'"):
        ds.load("casme3", root, frames="ir")
    clips = casme3_tree(tmp_path / "clips", rows=4, layout_kind="clips")
    with pytest.raises(MicroexpError, match="clip-cut distribution has no depth"):
        ds.load("casme3", clips, frames="depth")
    with pytest.raises(MicroexpError, match="takes no option 'depth'; its options: coding, fps"):
        ds.load("casme3", root, depth=True)


def test_cli_loader_options(tmp_path: Path, capsys) -> None:
    """``--option DATASET.KEY=VALUE`` reaches the loader from the CLI; a malformed or unknown
    option, or one for a dataset the selection does not read, is one line with exit code 2."""
    root = casme3_tree(tmp_path / "casme3", rows=4)
    argv = ["data", "summary", "--dataset", "casme3", "--root", str(root), "--json"]
    assert main([*argv, "--option", "casme3.frames=depth"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 0  # no depth folders here
    assert main([*argv, "--protocol", "casme3-7class", "--option", "casme3.fps=30"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] > 0
    for option, message in [
        ("frames=depth", "expected DATASET.KEY=VALUE"),
        ("casme3.depth=1", "takes no option 'depth'"),
        ("casme2.fps=200", "does not read (it reads casme3)"),
        ("casme3.fps=fast", "casme3.fps='fast': expected a positive finite number"),
        ("casme3.fps=[30]", "casme3.fps=[30]: expected a positive finite number"),
        ("casme3.fps=-30", "casme3.fps=-30: expected a positive finite number"),
    ]:
        assert main([*argv, "--option", option]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    # the same rule through a protocol's selection (datasets.load_protocol)
    assert main([*argv, "--protocol", "casme3-7class", "--option", "casme2.fps=200"]) == 2
    assert "'casme2', which this selection does not read" in capsys.readouterr().err


def test_casme3_v1_xls(tmp_path: Path) -> None:
    """The v1 annotation (``..._v1.xls``, sheet ``Sheet1``, two extra unnamed columns, text
    cells) is read as v2 is when it is what the user has."""
    xlwt = pytest.importorskip("xlwt")
    root = tmp_path / "casme3"
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class"]
    rows = [
        [*header, "emotion", "", ""],
        ["spNO.1", "a", "10", "12", "15", "R12", "1", "happy", "x", ""],
        ["spNO.1", "a", "30", "33", "36", "4", "2", "Others", "", "y"],
        ["spNO.3", "c", "5", "6", "8", "4", "2", "fear", "", ""],  # no frames on disk
    ]
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            sheet.write(i, j, cell)
    root.mkdir()
    book.save(str(root / "cas(me)3_part_A_ME_label_JpgIndex_v1.xls"))
    for on, off in ((10, 15), (30, 36)):
        _write_jpgs(root / "spNO.1" / "a" / "color", range(on, off + 1))
    r = ds.load("casme3", root)
    got = {s.id: (s.onset, s.apex, s.offset, s.label) for s in r.samples}
    assert got == {
        "casme3/spNO.1/a_10": (10, 12, 15, "happy"),
        "casme3/spNO.1/a_30": (30, 33, 36, "others"),
    }
    assert [e.sample for e in r.excluded] == ["casme3/spNO.3/c_5"]


def test_casme3_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MicroexpError, match="does not exist|not found|no such"):
        ds.load("casme3", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MicroexpError, match="no CAS\\(ME\\)\\^3 Part A ME annotation file"):
        ds.load("casme3", tmp_path / "empty")
    root = casme3_tree(tmp_path / "bad", rows=4)
    from openpyxl import load_workbook

    book = root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    wb = load_workbook(book)
    wb["label"]["H3"] = "contempt"
    wb.save(book)
    with pytest.raises(MicroexpError, match=r"row 3: unknown emotion 'contempt'"):
        ds.load("casme3", root)
    wb["label"]["C1"] = "Start"
    wb.save(book)
    with pytest.raises(MicroexpError, match="no header row with the columns"):
        ds.load("casme3", root)


def mmew_tree(root: Path, subject_first: bool) -> Path:
    """MMEW: emotion-first with no subject level (others under repression/), or subject-first;
    subjects come from the table (numbers)."""
    from openpyxl import Workbook

    rows = [(1, "1-1-001", 3, 5, 8, "happiness"), (2, "2-7-001", 1, 2, 4, "others"),
            (2, "2-3-002", 2, 3, 6, "Surprise")]  # fmt: skip
    wb = Workbook()
    ws = wb.active
    ws.append(["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
               "Estimated Emotion", "remarks"])  # fmt: skip
    for subj, name, on, ap, off, emo in rows:
        ws.append([subj, name, on, ap, off, "AU12", emo, None])
        folder = "repression" if emo == "others" else emo.lower()
        base = root / f"S{subj:02d}" if subject_first else root / "Micro_Expression"
        _write_jpgs(base / folder / name, range(1, off + 2))
    root.mkdir(parents=True, exist_ok=True)
    wb.save(root / "MMEW_Micro_Exp.xlsx")
    return root


@pytest.mark.parametrize("subject_first", [False, True])
def test_mmew_both_layouts(tmp_path: Path, subject_first: bool) -> None:
    root = mmew_tree(tmp_path / "mmew", subject_first)
    r = ds.load("mmew", root)
    got = {s.id: s for s in r.samples}
    assert set(got) == {"mmew/S01/1-1-001", "mmew/S02/2-7-001", "mmew/S02/2-3-002"}
    assert got["mmew/S02/2-7-001"].label == "others" and got["mmew/S02/2-3-002"].label == "surprise"
    assert got["mmew/S01/1-1-001"].fps == 90.0 and any("90 fps" in n.reason for n in r.notes)
    proto = ds.load_protocol("mmew-7class", {"mmew": root})[0]
    assert len(proto.samples) == 3 and not r.excluded


def test_mmew_bad_input(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    (tmp_path / "empty").mkdir()
    with pytest.raises(MicroexpError, match="no MMEW annotation file"):
        ds.load("mmew", tmp_path / "empty")
    root = mmew_tree(tmp_path / "m", subject_first=False)
    book = root / "MMEW_Micro_Exp.xlsx"
    wb = load_workbook(book)
    wb.active["G2"] = "joy"
    wb.save(book)
    with pytest.raises(MicroexpError, match=r"MMEW_Micro_Exp.xlsx .* row 2: unknown emotion 'joy'"):
        ds.load("mmew", root)
    shutil.rmtree(root / "Micro_Expression")
    with pytest.raises(MicroexpError, match="no MMEW clip folder"):
        ds.load("mmew", root)


@pytest.mark.slow  # ~15 s; test_synthetic's tiny trees load all three through the loaders
def test_synthetic_casme3_and_mmew_in_their_layouts(tmp_path: Path) -> None:
    from microexp import synthetic

    root = synthetic.generate("casme3", tmp_path / "casme3", "tiny", 0, samples_per_subject=4)
    r = ds.load("casme3", root)
    assert r.synthetic and len(r.samples) == 12 and not r.excluded
    assert (root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx").is_file()
    videos = [(s.subject, s.clip.split("_")[0]) for s in r.samples]
    assert len(set(videos)) == 6  # two MEs in each video folder, told apart by their onsets
    assert all(s.clip == f"{s.clip.split('_')[0]}_{s.onset}" for s in r.samples)
    m = ds.load("mmew", synthetic.generate("mmew", tmp_path / "mmew", "tiny", 0))
    assert m.synthetic and len(m.samples) == 9 and not m.excluded
    assert all(s.clip.startswith(f"{int(s.subject[1:])}-") for s in m.samples)


def fourdme_tree(root: Path) -> Path:
    """4DME: the labelling file with a space in its name, grey frames, a multi-label row."""
    from openpyxl import Workbook

    rows = [("S01", "S01_01", 2, 4, 6, "Positive"), ("S01", "S01_02", 1, 3, 5, "Surprise+Negative"),
            ("S02", "S02_01", 3, 4, 7, "Repression")]  # fmt: skip
    wb = Workbook()
    ws = wb.active
    ws.append(["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion"])
    for subj, fold, on, ap, off, emo in rows:
        ws.append([subj, fold, on, ap, off, "12(k)", emo])
        _write_jpgs(root / "gray_micro" / subj / fold, range(1, off + 1))
    wb.save(root / "4DME_Labelling_Micro_release v1.xlsx")
    wb.save(root / "4DME_Labelling_Micro_extras_release v1.xlsx")  # never read as the labels
    return root


def test_4dme_keeps_multi_labels_and_the_protocol_excludes_them(tmp_path: Path) -> None:
    root = fourdme_tree(tmp_path / "4dme")
    r = ds.load("4dme", root)
    labels = {s.id: s.label for s in r.samples}
    assert labels == {"4dme/S01/S01_01": "positive", "4dme/S01/S01_02": "surprise+negative",
                      "4dme/S02/S02_01": "repression"}  # fmt: skip
    assert any("frame rate stated in no file" in n.reason for n in r.notes)
    assert all(s.fps != s.fps for s in r.samples)  # unknown: nan, never assumed
    assert ds.load("4dme", root, fps=60).samples[0].fps == 60.0
    (p,) = ds.load_protocol("4dme-5class", {"4dme": root})
    assert sorted(s.label for s in p.samples) == ["positive", "repression"]
    assert [e.reason for e in p.excluded if e.sample == "4dme/S01/S01_02"] == [
        "multi-label emotion 'surprise+negative' (4dme-5class: single only)"
    ]


def test_4dme_bad_label_and_missing_frames_folder(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    root = fourdme_tree(tmp_path / "4dme")
    book = root / "4DME_Labelling_Micro_release v1.xlsx"
    wb = load_workbook(book)
    wb.active["G3"] = "Surprise+Joy"
    wb.save(book)
    with pytest.raises(
        MicroexpError, match=r"release v1.xlsx .* row 3: unknown emotion 'Surprise\+Joy'"
    ):
        ds.load("4dme", root)
    shutil.rmtree(root / "gray_micro")
    with pytest.raises(MicroexpError, match="no 4DME frame folder"):
        ds.load("4dme", root)


def test_cli_output_cut_short_is_not_an_error() -> None:
    """A reader that stops early (``microexp data protocols | head -1``) ends the command
    quietly: no error line, exit code 0."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "microexp", "data", "protocols"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**__import__("os").environ, "PYTHONUNBUFFERED": "1"},
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away after one line
    err = proc.stderr.read().decode()
    assert first.strip() and proc.wait(timeout=60) == 0
    assert "error" not in err, err
