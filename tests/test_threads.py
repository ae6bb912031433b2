"""Threads: kernels' parallel loops run on the C runtime's own pool (runtime_c/src/ek_parallel.c),
whose thread count is the compile-time --threads by default and can be changed at run time; outputs
do not depend on it (int8 stays bit-exact). Microcontroller targets refuse threads."""

import ctypes
import json
import subprocess

import numpy as np
import pytest

from edgekeras.cli import main
from edgekeras.codegen.artifact import RUNTIME_DIR, write_artifact
from edgekeras.codegen.build import build_model
from edgekeras.codegen.schedules import ScheduleOptions
from edgekeras.compiler import CompileError, compile_model
from edgekeras.ir import interpreter
from edgekeras.runtime import ArtifactError, load
from edgekeras.targets import get_target
from test_int8_kernels import _int8_zoo

N = 1000  # elements of the hand-written parallel kernel


def _parallel_scale_kernel():
    """b[i] = 2 a[i] + 1 with its one loop parallel: TVM turns it into a lambda and a launch call."""
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def scale(a: T.Buffer((N,), "float32"), b: T.Buffer((N,), "float32")):
        T.func_attr({"global_symbol": "ek_scale", "tirx.noalias": True})
        for i in T.parallel(N):
            with T.sblock("b"):
                vi = T.axis.spatial(N, i)
                b[vi] = a[vi] * T.float32(2.0) + T.float32(1.0)

    return scale


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.c_void_p),
                ("byte_offset", ctypes.c_uint64)]


class _Any(ctypes.Structure):
    _fields_ = [("type_index", ctypes.c_int32), ("padding", ctypes.c_uint32), ("v_ptr", ctypes.c_void_p)]


@pytest.fixture(scope="module")
def scale_library(tmp_path_factory):
    """The hand-written parallel kernel linked with the runtime's launcher only, as a shared library."""
    import tvm

    folder = tmp_path_factory.mktemp("parallel")
    target = get_target("x86_64")
    with tvm.transform.PassContext(opt_level=3, config={"tirx.disable_assert": True}):
        tvm.tirx.build(tvm.IRModule({"ek_scale": _parallel_scale_kernel()}), target=target.tvm_target()) \
            .write_to_file(str(folder / "scale.o"))
    library = folder / "libscale.so"
    subprocess.run([target.cc, *target.cflags, *target.ldflags, f"-I{RUNTIME_DIR / 'include'}", "-o", str(library),
                    str(RUNTIME_DIR / "src" / "ek_parallel.c"), str(folder / "scale.o"), "-lpthread"], check=True)
    return ctypes.CDLL(str(library))


def _call_scale(lib, a):
    b = np.zeros_like(a)
    shape = (ctypes.c_int64 * 1)(N)
    tensors = [_DLTensor(array.ctypes.data, 1, 0, 1, 2, 32, 1, shape, None, 0) for array in (a, b)]
    args = (_Any * 2)(*[_Any(7, 0, ctypes.addressof(t)) for t in tensors])
    assert lib["__tvm_ffi_ek_scale"](None, args, 2, None) == 0
    return b


def test_a_parallel_loop_calls_the_runtime_pool_with_any_thread_count(scale_library):
    lib = scale_library
    launch = ctypes.c_void_p.in_dll(lib, "__TVMBackendParallelLaunch").value
    assert launch == ctypes.cast(lib.TVMBackendParallelLaunch, ctypes.c_void_p).value  # filled at load
    a = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    for threads in (1, 2, 4, 7, 1):
        assert lib.ek_set_num_threads(threads) >= 1
        assert lib.ek_get_num_threads() == threads
        np.testing.assert_array_equal(_call_scale(lib, a), a * np.float32(2) + np.float32(1))


@pytest.fixture(scope="module")
def threaded_int8(tmp_path_factory):
    graph = _int8_zoo()
    folder = tmp_path_factory.mktemp("int8_threads")
    compiled = build_model(graph, get_target("x86_64"), "test", ScheduleOptions(threads=2))
    info = write_artifact(compiled, folder, "0" * 64)
    return graph, folder, info


def test_int8_outputs_are_bit_exact_on_1_2_and_4_threads(threaded_int8):
    graph, folder, info = threaded_int8
    assert info["threads"] == 2
    assert b"__TVMBackendParallelLaunch" in (folder / "libmodel.so").read_bytes()  # the kernels have parallel loops
    x = (np.random.default_rng(1).standard_normal((2, 6, 6, 4)) * 1.5).astype(np.float32)
    want = interpreter.run(graph, [x])
    artifact = load(folder)
    for threads in (2, 1, 4):
        artifact.set_threads(threads)
        for value, actual in zip(graph.outputs, artifact.predict(x)):
            expected = want[value.name]
            assert np.array_equal(actual.reshape(expected.shape), expected), f"{threads} threads: {value.producer.op}"


def test_bench_reports_the_threads_it_ran_on(threaded_int8, capsys):
    _, folder, _ = threaded_int8
    assert main(["bench", str(folder), "--runs", "3", "--warmup", "0", "--threads", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["threads"], report["threads_compiled"]) == (3, 2)
    assert main(["bench", str(folder), "--runs", "3", "--warmup", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == 2


def test_bad_thread_counts_are_one_line_errors(threaded_int8, capsys):
    _, folder, _ = threaded_int8
    artifact = load(folder)
    for bad in (0, 65, "2", 1.5):
        with pytest.raises(ArtifactError, match="threads must be an integer from 1 to 64"):
            artifact.set_threads(bad)
    assert main(["bench", str(folder), "--threads", "0"]) == 2
    assert "expected an integer from 1 to 64" in capsys.readouterr().err


def test_microcontroller_targets_refuse_threads():
    import edgekeras as keras

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(CompileError, match="microcontroller: its kernels run on one core"):
        compile_model(model, target="cortex-m4", quantize="float", threads=2, stop_after="lower")


def test_cli_compiles_with_threads_and_records_them(tmp_path, capsys):
    import edgekeras as keras

    model = keras.Sequential([keras.layers.Input((6, 6, 2)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    model.save(tmp_path / "m.keras")
    assert main(["compile", str(tmp_path / "m.keras"), "--target", "host", "-o", str(tmp_path / "art"),
                 "--threads", "2", "--tuning-records", str(tmp_path / "no-records")]) == 0
    assert json.loads((tmp_path / "art" / "manifest.json").read_text())["threads"] == 2
    x = np.random.default_rng(2).standard_normal((2, 6, 6, 2)).astype(np.float32)
    artifact = load(tmp_path / "art")
    on_two = artifact.predict(x)
    artifact.set_threads(1)
    np.testing.assert_array_equal(artifact.predict(x), on_two)
    np.testing.assert_allclose(on_two, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert main(["compile", str(tmp_path / "m.keras"), "--target", "host", "--threads", "65"]) == 2
    assert "--threads: expected an integer from 1 to 64, got '65'" in capsys.readouterr().err
