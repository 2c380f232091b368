"""Training: schedules, precision, fit with logs, the step's own input work, on any backend."""

from .fit import (
    ReusedModel,
    TrainConfig,
    compile_model,
    configure_precision,
    convergence_epoch,
    mask_batch_norm,
    predict_fixed,
    set_determinism,
    step_decay,
    step_input_mode,
    step_input_model,
    tensorboard_callback,
    train,
)

__all__ = [
    "ReusedModel",
    "TrainConfig",
    "compile_model",
    "configure_precision",
    "convergence_epoch",
    "predict_fixed",
    "set_determinism",
    "step_decay",
    "step_input_mode",
    "mask_batch_norm",
    "step_input_model",
    "tensorboard_callback",
    "train",
]
