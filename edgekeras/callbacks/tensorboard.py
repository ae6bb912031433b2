"""TensorBoard: event files in Keras's layout, written with tensorboardX.

As Keras: `log_dir/train` gets `epoch_<metric>` (and `epoch_learning_rate`) per epoch, `batch_<metric>`
every `update_freq` batches, weight histograms every `histogram_freq` epochs and the model's JSON
config for the graph dashboard; `log_dir/validation` gets `epoch_<metric>` from the `val_` logs and
`evaluation_<metric>_vs_iterations` at the end of each evaluation.
"""

import os
import time
import warnings

import numpy as np

from edgekeras.callbacks.callback import Callback


def _model_config_summary(model):
    """The summary Keras writes under the tag "keras" for TensorBoard's graph plugin, or None."""
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.types_pb2 import DT_STRING

    try:
        json_string = model.to_json()
    except Exception as err:  # noqa: BLE001 - as Keras: a model that cannot serialize just has no graph
        warnings.warn(f"Model failed to serialize as JSON. Ignoring... {err}", stacklevel=3)
        return None
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1"))
    tensor = TensorProto(dtype=DT_STRING, string_val=[json_string.encode()])
    return Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])


class TensorBoard(Callback):
    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        unsupported = {"write_images": write_images, "profile_batch": profile_batch,
                       "embeddings_freq": embeddings_freq, "embeddings_metadata": embeddings_metadata}
        unsupported = [f"{name}={value!r}" for name, value in unsupported.items() if value]
        if unsupported:
            raise ValueError(f"edgekeras's TensorBoard callback does not support {', '.join(unsupported)}.")
        if update_freq not in ("epoch", "batch") and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive integer. Received: {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._global_train_batch = 0

    def _writer(self, name):
        """The SummaryWriter for "train" or "validation", created on first use."""
        if name not in self._writers:
            from tensorboardX import SummaryWriter

            self._writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        if self.write_graph and type(model).__name__ in ("Functional", "Sequential"):
            summary = _model_config_summary(model)
            if summary is not None:
                self._writer("train").file_writer.add_summary(summary, global_step=0)

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (time.time(), int(self.model.optimizer.iterations))

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        logs = dict(logs or {})
        if self.write_steps_per_second:
            logs["steps_per_second"] = 1.0 / max(time.time() - self._batch_start, 1e-9)
        self._write_scalars("train", "batch_", logs, self._global_train_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            step = int(optimizer.iterations)
            writer = self._writer("validation")
            for name, value in logs.items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", value, step)
            writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k.removeprefix("val_"): v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train_logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
            if self.write_steps_per_second:
                start_time, start_iterations = self._epoch_start
                steps = int(optimizer.iterations) - start_iterations
                train_logs["steps_per_second"] = steps / (time.time() - start_time)
        self._write_scalars("train", "epoch_", train_logs, epoch)
        self._write_scalars("validation", "epoch_", val_logs, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for layer in self.model.layers:
                for weight in layer.weights:
                    writer.add_histogram(f"{weight.path.replace(':', '_')}/histogram", np.asarray(weight), epoch)
        for writer in self._writers.values():
            writer.flush()

    def _write_scalars(self, writer_name, prefix, logs, step):
        if not logs:
            return
        writer = self._writer(writer_name)
        for name, value in logs.items():
            if np.ndim(value) == 0:
                writer.add_scalar(f"{prefix}{name}", float(value), step)
