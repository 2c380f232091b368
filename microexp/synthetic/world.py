"""The synthetic world's shared settings: the generator's version, the motion parameters a
tree is drawn with, each subject's expression style, and the marker a generated tree carries.
Both the clip generator (:mod:`.generator`) and the long-video one (:mod:`.longvideo`) read
them from here."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Bumped whenever the same arguments would write different bytes (a tree's marker also
#: records what else changed its files: SAMM-LV trees with SAMM's emotion sheet say so, so that
#: only those are rebuilt). 5: coded apex within
#: +-0.2 s of the true peak (was 0.12; recalibration, docs/synthetic.md), ``coded_apex`` in the
#: truth CSV. 4: version 3's world with
#: CAS(ME)^3's "sad" prototype added (2026-11-29), which shifted every subject's style draws;
#: tests/test_synthetic.py pins each dataset's draws to this number.
GENERATOR_VERSION = 5


@dataclass(frozen=True)
class MotionParams:
    """Ranges the generator draws from, per sample (face-width units unless stated).

    The difficulty controls mean something in the world they model (docs/synthetic.md):
    expression intensity against sensor noise (``micro_peak``, ``noise_sigma``); AUs shared
    between classes (``shared_au_probability``: one AU of ``shared_aus``, which real coding
    finds across the negative emotions and "others", is added); a per-subject style
    (``style_gain``: each subject's strength per AU; ``style_omit_probability``: the chance a
    subject leaves one AU of an emotion's prototype out, always the same one;
    ``subject_intensity``: how expressive a subject is); distractors in micro clips (blinks,
    head drift, ``flicker``: amplitude of a slow global brightness oscillation at
    ``flicker_hz``, as lights beat against a high-speed camera); a share of weak clips
    (``weak_share``, peak scaled by ``weak_scale``) and of ambiguous ones (``ambiguous_share``:
    another emotion's prototype shows too); ``apex_error_s``: how far a micro clip's coded
    apex may lie from the true peak of motion (coders disagree on apex frames by tens of
    milliseconds), which weakens onset->apex flows (paper B) but not whole-clip ones (paper A).
    """

    micro_peak: tuple[float, float] = (0.008, 0.024)  # 1.0-3.1 px on a 128 px face
    macro_peak: tuple[float, float] = (0.06, 0.12)
    micro_duration_s: tuple[float, float] = (0.2, 0.5)
    apex_fraction: tuple[float, float] = (0.3, 0.6)
    pad_s: tuple[float, float] = (0.0, 0.1)  # neutral frames before onset and after offset
    drift: float = 0.015  # largest head drift over a clip
    blink_probability: float = 0.5
    blink_s: tuple[float, float] = (0.1, 0.15)
    noise_sigma: float = 2.0  # grey levels
    shared_au_probability: float = 0.2
    shared_aus: tuple[str, ...] = ("AU4", "AU7", "AU14", "AU25")
    style_gain: tuple[float, float] = (0.5, 1.5)
    style_omit_probability: float = 0.25
    subject_intensity: tuple[float, float] = (0.7, 1.3)
    flicker: float = 0.005
    flicker_hz: tuple[float, float] = (1.0, 4.0)
    weak_share: float = 0.2
    weak_scale: tuple[float, float] = (0.3, 0.6)
    ambiguous_share: float = 0.1
    apex_error_s: float = 0.2  # coders' apex frame within +- this of the true peak (v5; v3-4: 0.12)


#: named worlds: ``easy`` is generator version 1's (no shared AUs, no subject style, no
#: flicker, no weak or ambiguous clips; milder noise, drift and blinks), kept for the record
DIFFICULTY = {
    "default": MotionParams(),
    "easy": MotionParams(
        drift=0.008,
        blink_probability=0.35,
        noise_sigma=1.5,
        shared_au_probability=0.0,
        style_gain=(1.0, 1.0),
        style_omit_probability=0.0,
        subject_intensity=(1.0, 1.0),
        flicker=0.0,
        weak_share=0.0,
        ambiguous_share=0.0,
        apex_error_s=0.0,
    ),
}


@dataclass(frozen=True)
class SubjectStyle:
    """How one subject expresses: a gain per AU, the prototype AU it leaves out per emotion
    (None: none), and an overall intensity factor."""

    gains: dict[str, float]
    omits: dict[str, str | None]
    intensity: float


def make_style(rng: np.random.Generator, params: MotionParams) -> SubjectStyle:
    """A subject's style, drawn once per subject from its own generator."""
    from .motion import ACTION_UNITS, PROTOTYPES

    gains = {au: float(rng.uniform(*params.style_gain)) for au in (*ACTION_UNITS, "AU12R")}
    omits = {}
    for label, aus in PROTOTYPES.items():
        omit = rng.random() < params.style_omit_probability and len(aus) > 1
        omits[label] = str(rng.choice(aus)) if omit else None
    return SubjectStyle(gains, omits, float(rng.uniform(*params.subject_intensity)))


def marker_info(
    dataset: str,
    fps: float,
    preset: str,
    seed: int,
    counts: dict[str, int],
    face_px: int,
    params: MotionParams,
    note: str,
) -> dict:
    """The ``MICROEXP_SYNTHETIC.json`` of a generated tree: everything that made its bytes
    (a tree is reused only when a new request gives the same marker)."""
    return {
        "generator": "microexp.synthetic",
        "version": GENERATOR_VERSION,
        "fps": fps,
        "dataset": dataset,
        "preset": preset,
        "seed": seed,
        **counts,
        "face_px": face_px,
        "params": asdict(params),
        "note": note,
    }
