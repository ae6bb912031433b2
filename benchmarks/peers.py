"""Single-thread latency of the peers edgekeras is measured against: ONNX Runtime and LiteRT, and
ONNX Runtime's own int8 model of an .onnx file.

Both are pinned to one thread (ORT: intra- and inter-op pools of 1; LiteRT: num_threads=1) so the
comparison with the single-threaded C runtime is fair. Every helper returns per-call seconds.
"""

import time

import numpy as np


def time_calls(fn, min_runs=20, max_runs=2000, budget_s=1.0, warmup=3):
    """Seconds per call of `fn()`: at least `min_runs` calls, more until `budget_s` is spent."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (len(times) < max_runs and time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


def steady_latency(fn, rounds=3):
    """The lowest of `rounds` medians of `time_calls(fn)`: one round can land on a slow spell of a
    shared machine (clock ramp, a neighbour's burst); every runtime in a comparison gets the same."""
    return min(float(np.median(time_calls(fn))) for _ in range(rounds))


def onnxruntime_runner(path, x):
    """(run, output): a one-thread ONNX Runtime session bound to the single sample `x`."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return (lambda: session.run(None, feed)), session.run(None, feed)[0]


def litert_runner(path, x):
    """(run, output): a one-thread LiteRT interpreter with the single sample `x` set as input."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run():
        interpreter.set_tensor(input_index, x)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return run, run()


def onnx_int8(path, calib, output):
    """ONNX Runtime's own int8 model of the float .onnx at `path`: static QDQ quantization (int8
    activations and per-channel int8 weights) calibrated with min/max on the samples `calib`, the
    same ones edgekeras and the TFLite converter get. Returns `output`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    import onnxruntime

    name = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Samples(CalibrationDataReader):
        def __init__(self):
            self._rows = iter(calib[n:n + 1] for n in range(len(calib)))

        def get_next(self):
            row = next(self._rows, None)
            return None if row is None else {name: row}

    quantize_static(str(path), str(output), Samples(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return output
