"""Paper A: S3D CNN pre-trained on CK+ macro-expressions, fine-tuned on CASME II (LOSO, mean
per-subject accuracy, eq. 8). Its Tables 2, 3, 4 and Figs. 4, 5 as declarations.

Schedules (paper A, section 4): pre-training 80 epochs, batch 20, lr 1e-4 divided by 10
every 20 epochs, 1,500 re-sampled examples per CK+ class with random quarter turns; fine-tuning
40 epochs, batch 10, lr 1e-5 / 10 every 10, blocks 1-3 frozen, a new 5-way head, 50 examples
per class; from scratch 40 epochs at 1e-4. It names no optimizer: Adam (documented).
"""

from __future__ import annotations

from ..reporting.tables import Column, TableSpec
from ..training.fit import TrainConfig
from .defaults import MICRO_RESAMPLING, TRAINING
from .spec import ByPreset, Experiment, Paper, Sampling, Stage

PROTOCOL = "casme2-5class"
HEADLINE = "subject_mean_accuracy"  # eq. 8: the mean over subjects of per-subject accuracy

PRETRAIN = Stage(
    protocol="ckplus-7class",
    schedules=ByPreset(
        tiny=TrainConfig(epochs=2, batch_size=8, lr=3e-4, decay_every=1),
        demo=TrainConfig(epochs=24, batch_size=10, lr=5e-4),
        paper=TrainConfig(epochs=80, batch_size=20, lr=1e-4, decay_every=20),
    ),
    sampling=Sampling(
        per_class=ByPreset(tiny=4, demo=36, paper=1500), crops=tuple(range(9)), rotate=True
    ),
)
FINE_TUNE = Stage(
    schedules=ByPreset(
        tiny=TrainConfig(epochs=2, batch_size=8, lr=1e-4, decay_every=1),
        demo=TrainConfig(epochs=12, batch_size=10, lr=3e-4),
        paper=TrainConfig(epochs=40, batch_size=10, lr=1e-5, decay_every=10),
    ),
    sampling=MICRO_RESAMPLING,
    freeze=(1, 2, 3),
)
SCRATCH = TRAINING["s3d"]

ACCURACY = Column("subject_mean_accuracy", "ours (%)", paper="paper A (%)", scale=100)
TABLES = (
    TableSpec(
        key="paper_a_table2",
        row_title="method",
        columns=(ACCURACY,),
        row_format="ours: {}",
        reference={
            "STCLQP": 58.39,
            "LBP-TOP": 63.41,
            "STLBP-IP": 59.51,
            "3D-FCNN": 59.11,
            "C3DEvol": 63.71,
            "SDF": 47.30,
            "MagGA": 63.30,
            "S3D CNN-transfer": 67.58,
        },
    ),
    TableSpec(
        key="paper_a_table3",
        row_title="quantity (mean over folds)",
        row="mode",
        transpose=True,
        min_rows=2,
        columns=(
            Column("mean_convergence_epoch", "convergence_epoch", paper="paper"),
            Column("mean_final_train_accuracy", "final_train_accuracy", paper="paper", scale=100),
            Column("mean_final_train_loss", "final_train_loss", paper="paper"),
        ),
        paper={"scratch": (20.73, 64.35, 0.818), "transfer": (11.46, 92.16, 0.458)},
    ),
    TableSpec(
        key="paper_a_fig4",
        row_title="run",
        row="mode",
        min_rows=2,
        columns=(ACCURACY,),
        paper={"scratch": (49.46,), "transfer": (67.58,)},
        figure="bars",
        figure_file="paper_a_fig4_transfer_vs_scratch.png",
        caption="LOSO accuracy, scratch vs transfer",
    ),
    TableSpec(
        key="paper_a_fig5",
        row_title="run",
        row="mode",
        min_rows=2,
        columns=(),
        figure="curves",
        figure_file="paper_a_fig5_training_curves.png",
        caption="training accuracy, scratch vs transfer",
    ),
    TableSpec(
        key="paper_a_table4",
        row_title="network (transfer)",
        row="model",
        columns=(Column("subject_mean_accuracy", "ours (%)", "paper A LOSO accuracy (%)", 100),),
        paper={"cnn2d": (58.27,), "cnn3d": (64.68,), "s3d": (67.58,)},
    ),
)

_S3D_TABLES = ("paper_a_table2", "paper_a_table3", "paper_a_fig4", "paper_a_fig5")


def _pair(model: str, transfer_tables: tuple[str, ...], scratch_tables: tuple[str, ...]):
    """A network fine-tuned from its CK+ pre-training, and the same from random weights."""
    return (
        Experiment(
            name=f"{model}-transfer",
            protocol=PROTOCOL,
            recipe="s3d",
            model=model,
            pretrain=PRETRAIN,
            train=FINE_TUNE,
            mode="transfer",
            tables=transfer_tables,
            headline=HEADLINE,
            compare_to=f"{model}-scratch",
        ),
        Experiment(
            name=f"{model}-scratch",
            protocol=PROTOCOL,
            recipe="s3d",
            model=model,
            train=SCRATCH,
            mode="scratch",
            tables=scratch_tables,
            headline=HEADLINE,
        ),
    )


PAPER_A = Paper(
    name="s3d",
    title="paper A: S3D CNN, CK+ pre-training, CASME II fine-tuning",
    experiments=(
        *_pair("s3d", (*_S3D_TABLES, "paper_a_table4"), _S3D_TABLES),
        *_pair("cnn2d", ("paper_a_table2", "paper_a_table4"), ("paper_a_table2",)),
        *_pair("cnn3d", ("paper_a_table2", "paper_a_table4"), ("paper_a_table2",)),
        Experiment(
            name="lbptop-svm",
            protocol=PROTOCOL,
            model="lbptop",
            recipe="lbptop",
            trainer="lbptop-svm",
            train=Stage(schedules=None),
            tables=("paper_a_table2",),
            headline=HEADLINE,
        ),
    ),
    tables=TABLES,
    default=("s3d-transfer", "s3d-scratch"),
    template="s3d-scratch",
    template_tables=("paper_a_table2",),
)
