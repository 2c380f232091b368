"""Experiments as data: frozen, typed records built with keywords.

An :class:`Experiment` is one LOSO run of one model on one protocol: its recipe, model
arguments, stages (an optional pre-training on a macro-expression protocol, then LOSO training
from scratch or fine-tuning with blocks frozen and a new head), schedules per preset, and the
paper tables it feeds. A :class:`Paper` groups the experiments and tables that
``microexp reproduce NAME`` runs. One generic runner (:mod:`.runner`) reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..errors import MicroexpError, check_int, is_int, unknown_name
from ..reporting.tables import TableSpec
from ..training.fit import TrainConfig

T = TypeVar("T")

PRESET_NAMES = ("tiny", "demo", "paper")


@dataclass(frozen=True)
class ByPreset(Generic[T]):
    """One value per preset: ``tiny`` (tests), ``demo`` (``make demo`` on 2 CPU cores),
    ``paper`` (the paper's settings, meant for a GPU)."""

    tiny: T
    demo: T
    paper: T

    def __getitem__(self, preset: str) -> T:
        if preset not in PRESET_NAMES:
            raise unknown_name("preset", preset, PRESET_NAMES)
        return getattr(self, preset)


@dataclass(frozen=True)
class Preset:
    """What a preset changes besides schedules: the synthetic data size, and runtime settings
    that never change a number (kept out of the run's hash)."""

    name: str
    data_preset: str
    tensorboard: bool
    run_eagerly: bool  # no graph tracing: faster for runs of a few steps (tiny)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(name="tiny", data_preset="tiny", tensorboard=False, run_eagerly=True),
    "demo": Preset(name="demo", data_preset="demo", tensorboard=False, run_eagerly=False),
    "paper": Preset(name="paper", data_preset="demo", tensorboard=True, run_eagerly=False),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise unknown_name("preset", name, tuple(PRESETS))
    return PRESETS[name]


@dataclass(frozen=True)
class Sampling:
    """How a stage draws training examples from the cached tensors.

    ``per_class`` None: every training sample once, unrotated (paper B). Otherwise paper A's
    re-sampling: that many examples per class per preset, drawn with replacement from the
    (sample, crop) pool over ``crops``, each with a random quarter turn if ``rotate``.
    ``test_crop``: the crop held-out samples are predicted from (None: the tensor has no crop
    axis).
    """

    per_class: ByPreset[int] | None = None
    crops: tuple[int, ...] | None = None
    rotate: bool = False
    test_crop: int | None = None

    def __post_init__(self) -> None:
        """Refuse, in one line, a setting that would be ignored or cannot be drawn."""
        if self.per_class is None:
            if self.crops is not None or self.rotate:
                raise MicroexpError(
                    "Sampling: crops and rotate belong to paper A's re-sampling (per_class); "
                    "with per_class=None every sample is used once, unrotated, so they would "
                    "be ignored"
                )
        else:
            if not isinstance(self.per_class, ByPreset):
                raise MicroexpError(
                    f"Sampling: per_class {self.per_class!r}: expected ByPreset(tiny=, demo=, "
                    "paper=) of examples per class"
                )
            for preset in PRESET_NAMES:
                check_int(self.per_class[preset], f"Sampling per_class at {preset}", 1)
            if not self.crops:
                raise MicroexpError("Sampling: per_class needs crops (the crops to draw from)")
        if self.crops is not None:
            ok = all(is_int(c) and c >= 0 for c in self.crops)
            if not ok or len(set(self.crops)) != len(self.crops):
                raise MicroexpError(
                    f"Sampling: crops {self.crops!r}: expected distinct crop indices >= 0"
                )
        if self.test_crop is not None and not (is_int(self.test_crop) and self.test_crop >= 0):
            raise MicroexpError(f"Sampling: test_crop {self.test_crop!r}: expected an index >= 0")

    def resolved(self, preset: str) -> dict:
        return {
            "per_class": None if self.per_class is None else self.per_class[preset],
            "crops": None if self.crops is None else list(self.crops),
            "rotate": self.rotate,
            "test_crop": self.test_crop,
        }


@dataclass(frozen=True)
class Stage:
    """One training stage: schedules per preset and how examples are drawn. For a pre-training
    stage, ``protocol`` is the macro-expression protocol it trains on (every subject: it is not
    the evaluation set). For a fine-tuning stage, ``freeze`` lists the blocks kept frozen and
    the head is replaced by one with the protocol's classes."""

    schedules: ByPreset[TrainConfig] | None
    sampling: Sampling = field(default_factory=Sampling)
    protocol: str | None = None
    freeze: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.schedules is not None and (  # None: a trainer without epochs (LBP-TOP + SVM)
            not isinstance(self.schedules, ByPreset)
            or not all(isinstance(self.schedules[p], TrainConfig) for p in PRESET_NAMES)
        ):
            raise MicroexpError("Stage: schedules must be ByPreset(tiny=, demo=, paper=) of "
                                "TrainConfig")  # fmt: skip
        if not isinstance(self.sampling, Sampling):
            raise MicroexpError(f"Stage: sampling {self.sampling!r}: expected a Sampling")
        blocks = tuple(self.freeze)
        if not all(is_int(b) and b >= 1 for b in blocks) or len(set(blocks)) != len(blocks):
            raise MicroexpError(
                f"Stage: freeze {self.freeze!r}: expected distinct block numbers >= 1"
            )


@dataclass(frozen=True)
class Experiment:
    """One LOSO run, declared.

    ``trainer``: ``keras`` (every deep model, one fold trainer) or ``lbptop-svm`` (the
    handcrafted baseline). ``pretrain`` set: ``train`` fine-tunes the pre-trained model.
    ``tables``: the report tables this run's row goes to. ``mode`` and ``variant`` are run
    metadata the tables select and label rows by (transfer/scratch; an ablation's name).
    ``headline``: the paper's metric for this run; ``compare_to``: the run it is compared with
    (difference, interval, paired test), e.g. transfer with scratch, an ablation with the full
    model.
    """

    name: str
    protocol: str
    model: str
    train: Stage
    model_args: Mapping[str, object] = field(default_factory=dict)
    recipe: str | None = None  # default: the model's
    pretrain: Stage | None = None
    trainer: str = "keras"
    mode: str = "scratch"
    variant: str = "full"
    tables: tuple[str, ...] = ()
    headline: str = "pooled_uf1"  # the metric comparisons and baselines are read by
    compare_to: str | None = None  # the run this one is compared with (paired, same samples)

    def meta(self, paper: str | None) -> dict:
        """What config.json records about the run besides its hashed settings."""
        return {
            "name": self.name,
            "paper": paper,
            "model": self.model,
            "protocol": self.protocol,
            "mode": self.mode,
            "variant": self.variant,
            "stage": "fine-tune" if self.pretrain else "scratch",
            "tables": list(self.tables),
            "headline": self.headline,
            "compare_to": self.compare_to,
        }


@dataclass(frozen=True)
class Paper:
    """What ``microexp reproduce NAME`` runs: declared experiments, the tables they feed, and
    which experiments run when no model or ablation is asked for. ``template`` is the
    experiment whose setting a registered model that is not declared here is run in
    (``reproduce NAME --model M``), feeding ``template_tables``."""

    name: str
    title: str
    experiments: tuple[Experiment, ...]
    tables: tuple[TableSpec, ...]
    default: tuple[str, ...]
    template: str
    template_tables: tuple[str, ...] = ()
