"""`--tune N`: MetaSchedule tunes each kernel the records lack (a few trials here), later compiles of
the same kernels take the faster of the tuned and the default schedule from the records without
tuning again, and outputs stay right."""

import json

import numpy as np
import pytest
import tvm_ffi

import edgekeras as keras
from edgekeras.cli import main
from edgekeras.codegen import tuning
from edgekeras.codegen.build import build_model
from edgekeras.codegen.schedules import ScheduleOptions, cpu
from edgekeras.compiler import compile_model
from edgekeras.ir import interpreter
from edgekeras.runtime import load
from edgekeras.targets import get_target

TRIALS = 2


def _model():
    return keras.Sequential([keras.layers.Input((24,)), keras.layers.Dense(40, activation="relu")], name="tiny")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One compile that tunes the model's kernels into a fresh records folder."""
    records = tmp_path_factory.mktemp("records")
    result = compile_model(_model(), "host", tmp_path_factory.mktemp("tuned"), tune=TRIALS, tuning_records=str(records))
    return result, ScheduleOptions(tuning_records=str(records))


def _lowered_kernels(graph, options):
    """The kernels of `graph` as lowered, before any schedule."""
    collector = tuning.KernelCollector()
    build_model(graph, get_target("host"), "test", options, kernels=collector)
    return collector.funcs


def _check_outputs(result):
    x = np.random.default_rng(0).standard_normal((3, 24)).astype(np.float32)
    want = interpreter.run(result.graph, [x])[result.graph.outputs[0].name]
    np.testing.assert_allclose(load(result.path).predict(x), want, rtol=1e-5, atol=1e-5)


def _expected_schedule(func, target, options):
    tuned = tuning.lookup(func, target, options)
    return cpu.schedule(func, target, options) if tuned is None else tuned


def test_tuning_records_every_kernel_with_its_default_schedule_time(tuned):
    result, options = tuned
    target = result.compiled.target
    assert tuning.record_count(target, options) >= TRIALS
    lowered = _lowered_kernels(result.graph, options)
    defaults = tuning.read_defaults(tuning.records_dir(target, options))
    assert len(defaults) == len(lowered) == len(result.compiled.kernels.funcs)
    assert all(0 < entry["seconds"] < 1 for entry in defaults.values())
    for func, (_, scheduled, _) in zip(lowered, result.compiled.kernels.funcs):
        assert tvm_ffi.structural_equal(scheduled, _expected_schedule(func, target, options))
    _check_outputs(result)


def test_the_faster_of_tuned_and_default_schedule_is_compiled(tuned, tmp_path):
    """The decision follows the stored default-schedule time: slower than every candidate, the
    tuned schedules compile (and compute the same); faster, the default ones do."""
    result, options = tuned
    target = result.compiled.target
    folder = tuning.records_dir(target, options)
    measured = (folder / tuning.DEFAULTS_FILE).read_text()
    lowered = _lowered_kernels(result.graph, options)
    try:
        for seconds, want_tuned in ((1e9, True), (0.0, False)):
            stored = {key: dict(entry, seconds=seconds) for key, entry in tuning.read_defaults(folder).items()}
            (folder / tuning.DEFAULTS_FILE).write_text(json.dumps(stored))
            again = compile_model(_model(), "host", tmp_path / str(want_tuned), tuning_records=options.tuning_records)
            for func, (_, scheduled, _) in zip(lowered, again.compiled.kernels.funcs):
                tuned_func = tuning.lookup(func, target, options)
                assert (tuned_func is not None) == want_tuned
                default = cpu.schedule(func, target, options)
                assert tvm_ffi.structural_equal(scheduled, tuned_func if want_tuned else default)
                assert not want_tuned or not tvm_ffi.structural_equal(scheduled, default)
            _check_outputs(again)
    finally:
        (folder / tuning.DEFAULTS_FILE).write_text(measured)


def test_a_later_compile_reuses_the_records_without_tuning(tuned, tmp_path):
    result, options = tuned
    target = result.compiled.target
    database = tuning.records_dir(target, options) / "database_tuning_record.json"
    before = (tuning.record_count(target, options), database.read_bytes())
    assert tuning.tune(_lowered_kernels(result.graph, options), target,
                       ScheduleOptions(tune_trials=TRIALS, tuning_records=options.tuning_records)) == 0
    for tune in (TRIALS, 0):  # asked to tune again, or not at all: the records answer either way
        again = compile_model(_model(), "host", tmp_path / f"t{tune}", tune=tune, tuning_records=options.tuning_records)
        assert (tuning.record_count(target, options), database.read_bytes()) == before
        for (_, first, _), (_, second, _) in zip(result.compiled.kernels.funcs, again.compiled.kernels.funcs):
            assert tvm_ffi.structural_equal(first, second)
        _check_outputs(again)


def test_records_are_kept_per_target_and_thread_count(tuned):
    result, options = tuned
    target = result.compiled.target
    other = ScheduleOptions(threads=2, tuning_records=options.tuning_records)
    assert tuning.records_dir(target, other) != tuning.records_dir(target, options)
    assert tuning.lookup(_lowered_kernels(result.graph, other)[0], target, other) is None


def test_default_records_folder_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tuning.records_root(ScheduleOptions()) == tmp_path / "edgekeras"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tuning.records_root(ScheduleOptions()) == tmp_path / "home" / ".cache" / "edgekeras"


@pytest.mark.parametrize("target", ["cortex-m4", "aarch64"])
def test_tuning_a_target_that_does_not_run_here_is_a_clear_error(target, tmp_path):
    with pytest.raises(ValueError, match="--tune measures kernels on this machine"):
        tuning.tune([], get_target(target), ScheduleOptions(tune_trials=2, tuning_records=str(tmp_path)))


def test_cli_rejects_a_negative_trial_count(capsys):
    assert main(["compile", "m.keras", "--target", "host", "--tune", "-1"]) == 2
    assert "--tune: expected an integer from 0 up, got '-1'" in capsys.readouterr().err
