"""Cached tensors -> a fold's input on the Keras backend in use: tf.data on TensorFlow
(:mod:`.tf_data`), NumPy index batches elsewhere (:mod:`.examples`); both draw the same
examples in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .examples import (
    Item,
    TensorStore,
    checked_items,
    index_batches,
    steps_per_epoch,
)


@dataclass(frozen=True)
class FitInput:
    """What ``Model.fit`` takes for a fold: ``data`` (a tf.data.Dataset on TensorFlow, a
    generator elsewhere) holding every epoch, and ``steps_per_epoch``. ``turn_in`` says what
    the training step does itself (:func:`~microexp.training.fit.step_input_model`)."""

    data: object
    steps_per_epoch: int
    turn_in: str
    padded: bool = False  # batches of one shape with a real-row column (index_batches' pad)


def make_input(
    store: TensorStore,
    items: Sequence[Item],
    batch_size: int,
    key: str = "x",
    shuffle: bool = False,
    seed: int = 0,
    epochs: int = 1,
    turn_in: str = "gather",
    pad: bool = False,
) -> FitInput:
    """A fold's training input over ``epochs`` epochs, on the Keras backend in use: tf.data on
    TensorFlow (:func:`.tf_data.make_dataset`, any ``turn_in``), :func:`index_batches`
    elsewhere (``turn_in`` must be ``"gather"``: the step gathers; ``pad``: batches of one
    shape). Every backend and mode trains on the same examples in the same order (tested)."""
    from .. import backend

    items = checked_items(items, turn_in, "make_input")
    steps = steps_per_epoch(len(items), batch_size)
    if backend.name() == "tensorflow" and not pad:
        from .tf_data import make_dataset

        data = make_dataset(store, items, batch_size, key, shuffle, seed, None, turn_in, epochs)
        return FitInput(data, steps, turn_in)
    if turn_in != "gather":
        why = "padded batches" if pad else f"on {backend.name()}"
        raise ValueError(
            f"turn_in {turn_in!r} needs tf.data (TensorFlow); with {why} the training step "
            "gathers: turn_in='gather'"
        )
    batches = index_batches(items, batch_size, shuffle, seed, epochs, backend.min_batch(), pad)
    return FitInput(batches, steps, turn_in, pad)
