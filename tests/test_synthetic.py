from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from microexp import datasets as ds
from microexp import synthetic
from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.landmarks import detect_landmarks
from microexp.synthetic import face
from microexp.synthetic.generator import MotionParams, render_clip

TINY = {"subjects": 2, "samples_per_subject": 2}


@pytest.fixture(scope="module")
def tiny_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synth")
    return {d: synthetic.generate(d, out / d, "tiny", seed=3, **TINY) for d in synthetic.SPECS}


@pytest.mark.parametrize(
    "dataset", ["ckplus", "casme", "casme2", "samm", "smic", "casme3", "mmew", "4dme"]
)
def test_generated_tree_loads_through_real_loader(
    tiny_trees: dict[str, Path], dataset: str
) -> None:
    r = ds.load(dataset, tiny_trees[dataset])
    assert r.synthetic
    assert len(r.samples) == 4 and not r.excluded
    assert len({s.subject for s in r.samples}) == 2
    spec = synthetic.SPECS[dataset]
    own_labels = set(spec.labels)
    assert {s.label for s in r.samples} <= own_labels
    assert all(s.fps == spec.fps for s in r.samples)
    # every clip's annotated frames exist and the apex lies between onset and offset
    for s in r.samples:
        assert s.frame_path(s.onset).is_file() and s.frame_path(s.offset).is_file()
        assert s.onset <= s.apex <= s.offset
    if dataset == "ckplus":
        assert len(r.ignored) == 2  # one unlabelled sequence per subject
    if spec.kind == "micro" and dataset != "smic":
        for s in r.samples:
            duration = (s.offset - s.onset + 1) / s.fps
            assert 0.2 - 1 / s.fps <= duration <= 0.5 + 1 / s.fps


def test_micro_datasets_reuse_published_ids(tiny_trees: dict[str, Path]) -> None:
    ids = ds.protocols.read_ids("megc2019_ids.csv")
    for dataset in ("casme2", "samm", "smic"):
        r = ds.load(dataset, tiny_trees[dataset])
        assert all(s.subject_key + "/" in " ".join(ids) for s in r.samples)
    smic = ds.load("smic", tiny_trees["smic"]).samples
    assert sum(s.id in ids for s in smic) >= len(smic) // 2
    for s in smic:  # a new id only where the subject has no published clip of that class left
        if s.id not in ids:
            listed = {
                k for k, v in ids.items() if k.startswith(s.subject_key + "/") and v == s.label
            }
            assert listed <= {x.id for x in smic}


def test_dlib_finds_every_generated_face(tiny_trees: dict[str, Path]) -> None:
    for dataset in synthetic.SPECS:
        for s in ds.load(dataset, tiny_trees[dataset]).samples:
            img = cv2.imread(str(s.frame_path(s.onset)), cv2.IMREAD_GRAYSCALE)
            assert detect_landmarks(img, upsample=1) is not None, s.id


def test_identities_are_distinct_and_detectable() -> None:
    ids = [face.make_identity(np.random.default_rng(i), 128, (224, 269)) for i in range(4)]
    for ident in ids:
        gray = cv2.cvtColor(ident.image.astype(np.uint8), cv2.COLOR_RGB2GRAY)
        found = detect_landmarks(gray)
        assert found is not None
        assert np.abs(found - ident.landmarks).mean() < 3.0  # px: the landmarks are the face's
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.abs(ids[a].image - ids[b].image).mean() > 5.0
            assert np.abs(ids[a].landmarks - ids[b].landmarks).mean() > 1.0


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def tree(seed: int, name: str) -> dict[str, bytes]:
        root = synthetic.generate("casme2", tmp_path / name, "tiny", seed, 1, 2)
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    a, b, c = tree(7, "a"), tree(7, "b"), tree(8, "c")
    assert a == b
    assert a != c


def test_micro_amplitude_in_stated_range() -> None:
    ident = face.make_identity(np.random.default_rng(0), 128, (224, 269))
    rng = np.random.default_rng(1)
    params = MotionParams()
    lo, hi = params.micro_peak
    weak = 0
    for label in ("happiness", "disgust", "surprise", "repression", "others") * 3:
        clip = render_clip(ident, label, "micro", 200.0, rng, params)
        base = clip.expression_landmarks[clip.onset]
        disp = np.linalg.norm(clip.expression_landmarks - base, axis=2).max(axis=1)
        assert int(np.argmax(disp)) == clip.apex
        peak = disp.max()
        if clip.weak:  # a weak clip's peak is scaled down by weak_scale
            weak += 1
            lo_w, hi_w = lo * params.weak_scale[0], hi * params.weak_scale[1]
            assert lo_w * clip.face_width - 1e-3 <= peak <= hi_w * clip.face_width + 1e-3
        else:
            assert lo * clip.face_width - 1e-3 <= peak <= hi * clip.face_width + 1e-3
            assert 0.5 <= peak <= 3.2  # px on a ~128 px face
        assert 0.2 <= (clip.offset - clip.onset + 1) / 200.0 <= 0.5 + 1 / 200
        # nothing moves before onset except drift and blinks: the expression is still
        assert np.allclose(clip.expression_landmarks[: clip.onset + 1], base)
    assert 0 < weak < 15  # about weak_share of the clips


def test_coded_apex_posed_macro_and_others() -> None:
    """The coded apex lies within apex_error_s of the true one (inside the clip); posed macro
    clips show their full prototype; "others" holds no emotion's full prototype."""
    from microexp.synthetic.motion import PROTOTYPES, action_units_for

    ident = face.make_identity(np.random.default_rng(0), 128, (224, 269))
    rng = np.random.default_rng(3)
    params = MotionParams()
    moved = 0
    for label in ("happiness", "disgust", "surprise") * 4:
        clip = render_clip(ident, label, "micro", 200.0, rng, params)
        assert clip.onset < clip.coded_apex <= clip.offset
        assert abs(clip.coded_apex - clip.apex) <= round(params.apex_error_s * 200)
        moved += clip.coded_apex != clip.apex
    assert moved > 0
    exact = render_clip(ident, "happiness", "micro", 200.0, rng, MotionParams(apex_error_s=0))
    assert exact.coded_apex == exact.apex
    for label in ("anger", "fear", "contempt"):
        clip = render_clip(ident, label, "macro", 30.0, rng, params)
        assert clip.aus == tuple(sorted(PROTOTYPES[label])) and clip.coded_apex is None
    for _ in range(200):
        aus = set(action_units_for("others", rng))
        assert 1 <= len(aus) <= 3
        assert not any(set(p) <= aus for p in PROTOTYPES.values())


def test_subject_style_and_shared_aus_shape_the_clips() -> None:
    from microexp.synthetic.generator import DIFFICULTY, make_style

    ident = face.make_identity(np.random.default_rng(0), 96, (168, 202))
    params = DIFFICULTY["default"]
    style = make_style(np.random.default_rng(3), params)
    assert all(params.style_gain[0] <= g <= params.style_gain[1] for g in style.gains.values())
    rng = np.random.default_rng(4)
    clips = [
        render_clip(ident, "surprise", "micro", 200.0, rng, params, style=style) for _ in range(12)
    ]
    omitted = style.omits["surprise"]
    assert all(omitted not in c.aus for c in clips if not c.ambiguous) if omitted else True
    shared = [c for c in clips if set(c.aus) & set(params.shared_aus)]
    assert 0 < len(shared) < 12
    easy = DIFFICULTY["easy"]
    plain = render_clip(ident, "surprise", "micro", 200.0, np.random.default_rng(4), easy)
    assert not plain.weak and not plain.ambiguous and not set(plain.aus) & {"AU7", "AU14"}


def test_macro_is_large_and_ends_at_apex() -> None:
    ident = face.make_identity(np.random.default_rng(0), 128, (224, 269))
    clip = render_clip(ident, "surprise", "macro", 30.0, np.random.default_rng(2))
    disp = np.linalg.norm(
        clip.expression_landmarks[-1] - clip.expression_landmarks[0], axis=1
    ).max()
    assert disp >= 0.06 * clip.face_width - 1e-3
    assert clip.apex == clip.offset == len(clip.frames) - 1


def test_summary_says_synthetic(
    tiny_trees: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["data", "summary", "--dataset", "samm", "--root", str(tiny_trees["samm"]), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    assert main(["data", "summary", "--dataset", "samm", "--root", str(tiny_trees["samm"])]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out


def test_generate_reuses_and_refuses(tmp_path: Path) -> None:
    root = synthetic.generate("smic", tmp_path / "smic", "tiny", 0, 1, 1)
    stamp = (root / "MICROEXP_SYNTHETIC.json").stat().st_mtime_ns
    assert synthetic.generate("smic", tmp_path / "smic", "tiny", 0, 1, 1) == root
    assert (root / "MICROEXP_SYNTHETIC.json").stat().st_mtime_ns == stamp
    with pytest.raises(MicroexpError, match="not empty"):
        synthetic.generate("smic", tmp_path / "smic", "tiny", 1, 1, 1)
    with pytest.raises(MicroexpError, match="unknown preset"):
        synthetic.generate("smic", tmp_path / "x", "huge")


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["data", "synth", "--dataset", "casme", "--out", str(tmp_path / "c"), "--preset", "tiny"]
    assert main(argv + ["--subjects", "1", "--samples-per-subject", "1"]) == 0
    assert len(ds.load("casme", tmp_path / "c").samples) == 1
    assert main(["data", "synth", "--dataset", "nope", "--out", str(tmp_path / "n")]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


#: sha256 of each tiny tree's synthetic_truth.csv and file names (seed 3, 2 x 2), for
#: GENERATOR_VERSION 5. A change here means the generator writes another world: bump the
#: version (reports and cached trees name it) and update these digests.
DRAWS_V5 = {
    "ckplus": "b753088ac82b3186",
    "casme": "657b767e9a0d9579",
    "casme2": "e29fe7c5118a62ba",
    "samm": "2d11f594b2a0b0a2",
    "smic": "8fe1e39c68fb0628",
    "casme3": "f4a65bde762a68e7",
    "4dme": "eaf79c33cf283c94",
    "mmew": "08a98172fc63c64c",
}


def test_draws_are_pinned_to_the_generator_version(tiny_trees: dict[str, Path]) -> None:
    from microexp.synthetic.generator import GENERATOR_VERSION

    got = {d: synthetic.draws_digest(root) for d, root in tiny_trees.items()}
    assert GENERATOR_VERSION == 5, "new version: update DRAWS_V5 (and its name) to its digests"
    assert got == DRAWS_V5, (
        "the generator's draws changed without a GENERATOR_VERSION bump: bump it and update "
        f"DRAWS_V5 to {got}"
    )


def test_two_processes_building_one_tree_do_not_collide(tmp_path: Path) -> None:
    """Shards started at once each build in their own partial folder; the first to finish
    wins, the other's copy is dropped, and a killed process's partial folder is cleaned."""
    from microexp.synthetic.layout import SYNTHETIC_MARKER, begin_tree, end_tree

    out, info = tmp_path / "casme2", {"dataset": "casme2", "seed": 0}
    dead = tmp_path / ".casme2.partial-999999999-deadbeef"  # no such process
    dead.mkdir()
    first, second = begin_tree(out, info, "casme2"), begin_tree(out, info, "casme2")
    assert first != second and not dead.exists()
    for tmp, text in ((first, "one"), (second, "two")):
        (tmp / "clip.txt").write_text(text)
    end_tree(first, out, info, [{"clip": "a"}])
    end_tree(second, out, info, [{"clip": "a"}])
    assert (out / "clip.txt").read_text() == "one" and (out / SYNTHETIC_MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["casme2"]
    assert begin_tree(out, info, "casme2") is None  # reused
