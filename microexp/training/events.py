"""TensorBoard scalars without TensorFlow (JAX and PyTorch backends).

Keras' ``TensorBoard`` callback writes through ``tf.summary``. Elsewhere this callback writes
each epoch's logs (loss, accuracy, learning rate) as scalar summaries in TensorBoard's event
file format, with the ``tensorboard`` package's own record writer and protocol buffers, which
import no TensorFlow. The files read in TensorBoard as Keras' do (a ``train`` run).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import time
from pathlib import Path

import keras


def available() -> bool:
    """Whether the ``tensorboard`` package (its writer, not TensorFlow) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


class EpochEvents(keras.callbacks.Callback):
    """Epoch scalars in ``log_dir/train/events.out.tfevents.*`` (tag ``epoch_NAME``, step =
    epoch, as Keras' callback names them)."""

    def __init__(self, log_dir: str | os.PathLike) -> None:
        super().__init__()
        self.dir = Path(log_dir) / "train"
        self._file = None
        self._writer = None

    def _open(self) -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        self.dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.microexp"
        self._file = open(self.dir / name, "wb")  # noqa: SIM115 - closed in on_train_end
        self._writer = RecordWriter(self._file)
        self._write(event_pb2.Event(wall_time=now, file_version="brain.Event:2"))

    def _write(self, event) -> None:
        self._writer.write(event.SerializeToString())

    def on_train_begin(self, logs=None) -> None:
        self._open()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        values = [
            summary_pb2.Summary.Value(tag=f"epoch_{k}", simple_value=float(v))
            for k, v in (logs or {}).items()
        ]
        event = event_pb2.Event(
            wall_time=time.time(), step=epoch, summary=summary_pb2.Summary(value=values)
        )
        self._write(event)
        self._file.flush()

    def on_train_end(self, logs=None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None
