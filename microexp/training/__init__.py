"""Training: schedules, transfer (freeze, new head), fit with logs."""

from .fit import (
    FreshModel,
    TrainConfig,
    compile_model,
    configure_precision,
    convergence_epoch,
    set_determinism,
    step_decay,
    step_input_mode,
    step_input_model,
    strategy,
    train,
)

__all__ = [
    "FreshModel",
    "TrainConfig",
    "compile_model",
    "configure_precision",
    "convergence_epoch",
    "set_determinism",
    "step_decay",
    "step_input_mode",
    "step_input_model",
    "strategy",
    "train",
]
