"""MetaSchedule tuning records: `--tune N` measures N candidate schedules per kernel on this machine
and keeps them in a records folder that every later compile consults.

Records live in `~/.cache/edgekeras` (or `$XDG_CACHE_HOME/edgekeras`, or `--tuning-records PATH`),
one JSON database per target and thread count, since a schedule's speed depends on both. A kernel
is tuned once per records folder: later compiles of the same kernel (same op, shapes, attrs) reuse
its record with no tuning. Tuning also measures the kernel's default schedule the same way, and a
compile takes the tuned schedule only when it measured faster (a few random trials often lose to
the hand-written CPU schedules). Tuning needs a target that runs here (host Linux);
microcontroller bundles never take tuned schedules.

The settings follow what TVM 0.27 needs on a small machine: a random cost model unless xgboost is
installed, and candidates built in this process. TVM's LocalBuilder starts fresh worker processes
for every batch, each importing the tensor intrinsics (~20 s), which dominates tuning at the trial
counts a 2-core machine affords (this process imports them once, when tuning starts). Candidates
still run in TVM's LocalRunner worker, so a crashing candidate cannot take the compile down.
"""

import contextlib
import hashlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from edgekeras.codegen.kernels import allocates_in_loops

RUN_TIMEOUT_S = 60
SEARCH_POPULATION = 128  # candidates sampled per round (TVM's 512 is sized for thousands of trials)
DEFAULTS_FILE = "default_schedules.json"  # workload -> the default schedule's measured seconds

_databases = {}  # records folder -> (file stamp, JSONDatabase), so a compile loads each folder once


class TuningError(ValueError):
    pass


def records_root(options):
    """The records folder: the one asked for, else the user's cache."""
    if options.tuning_records:
        return Path(options.tuning_records).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "edgekeras"


def records_dir(target, options):
    """The database folder of `target` at `options.threads` threads inside the records folder."""
    key = json.dumps({"tvm": target.tvm, "threads": options.threads}, sort_keys=True)
    return records_root(options) / f"{target.name}-t{options.threads}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _applies(target):
    return target.kind == "linux"


def _tvm_target(target, options):
    import tvm

    return tvm.target.Target({**target.tvm, "num-cores": options.threads})


def _workload(func):
    """The kernel as MetaSchedule stores it: a module with one function named `main`."""
    import tvm

    return tvm.IRModule({"main": func.with_attr("global_symbol", "main")})


def _key(func):
    import tvm_ffi

    return f"{tvm_ffi.structural_hash(_workload(func)) & (2**64 - 1):016x}"


def _default_schedule(func, target, options):
    from edgekeras.codegen.schedules import cpu

    return cpu.schedule(func, target, options)


def _database(folder, create=False):
    """The folder's database (None when it has none, unless `create`), loaded once per file change."""
    from tvm.s_tir import meta_schedule as ms

    paths = [folder / "database_workload.json", folder / "database_tuning_record.json"]
    if not all(p.exists() for p in paths):
        if not create:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return ms.database.JSONDatabase(str(paths[0]), str(paths[1]), allow_missing=True, module_equality="structural")
    stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    cached = _databases.get(folder)
    if cached is None or cached[0] != stamp:
        database = ms.database.JSONDatabase(str(paths[0]), str(paths[1]), allow_missing=False,
                                            module_equality="structural")
        cached = _databases[folder] = (stamp, database)
    return cached[1]


def read_defaults(folder):
    """{kernel key: {"seconds", "schedule"}}: how fast each tuned kernel's default schedule ran."""
    path = folder / DEFAULTS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _seconds(run_secs):
    times = [float(s.value) for s in run_secs] if run_secs else []
    return sum(times) / len(times) if times else math.inf


def lookup(func, target, options):
    """The tuned version of `func` when the records hold its workload for this target and it ran
    faster than the default schedule (measured when it was tuned), else None. A tuned schedule that
    allocates a workspace per loop iteration is not taken: the runtime's per-call slice cannot serve it."""
    if not _applies(target):
        return None
    folder = records_dir(target, options)
    database = _database(folder)
    if database is None:
        return None
    workload, tvm_target = _workload(func), _tvm_target(target, options)
    record = database.query_tuning_record(workload, tvm_target, "main")
    if record is None:
        return None
    default = read_defaults(folder).get(_key(func))
    if default is not None and default["seconds"] <= _seconds(record.run_secs) \
            and default["schedule"] == _key(_default_schedule(func, target, options)):
        return None  # the default schedule measured faster (and is still the same schedule)
    tuned = database.query_schedule(workload, tvm_target, "main").mod["main"]
    return None if allocates_in_loops(tuned) else tuned


def record_count(target, options):
    """How many measured candidates the records hold for this target (0 when there are none)."""
    database = _database(records_dir(target, options))
    return 0 if database is None else len(database)


def _in_process_builder():
    """A MetaSchedule builder that compiles candidates here and exports them as TVM's own builder does."""
    import tvm
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    @tvm.ir.utils.derived_object
    class InProcessBuilder(ms.builder.PyBuilder):
        def build(self, build_inputs):
            results = []
            for item in build_inputs:
                try:
                    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(item.mod)
                    built = tvm.tirx.build(mod, target=item.target)
                    results.append(ms.builder.BuilderResult(ms.builder.local_builder.default_export(built), None))
                except Exception as err:  # a candidate that fails to build is a failed trial, not an error
                    results.append(ms.builder.BuilderResult(None, f"in-process build failed: {err}"))
            return results

    return InProcessBuilder()


def _measure(func, tvm_target, builder, runner):
    """Mean seconds of one `func` run, measured as MetaSchedule measures its candidates (inf on failure)."""
    from tvm.s_tir import meta_schedule as ms

    built = builder.build([ms.builder.BuilderInput(_workload(func), tvm_target)])[0]
    if built.error_msg:
        return math.inf
    args = ms.arg_info.ArgInfo.from_prim_func(func)
    result = runner.run([ms.runner.RunnerInput(built.artifact_path, "cpu", args)])[0].result()
    return math.inf if result.error_msg else _seconds(result.run_secs)


@contextlib.contextmanager
def _environment(name, value):
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _cost_model():
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return "random"
    return "xgb"


def _missing(funcs, database):
    """The kernels (unique, as lowered) the database has no workload for."""
    import tvm_ffi

    missing = []
    for func in funcs:
        if not database.has_workload(_workload(func)) and not any(tvm_ffi.structural_equal(func, m) for m in missing):
            missing.append(func)
    return missing


def tune(funcs, target, options, log=None):
    """Runs `options.tune_trials` MetaSchedule trials for each kernel in `funcs` the records lack,
    commits them to the records with the default schedule's time; returns how many were tuned."""
    trials = options.tune_trials
    if trials < 1:
        raise TuningError(f"--tune takes a number of trials >= 1, got {trials}.")
    if not _applies(target) or target.emulated:
        raise TuningError(f"--tune measures kernels on this machine; target '{target.name}' does not run here "
                          "(tuning works for the host target).")
    folder = records_dir(target, options)
    database = _database(folder, create=True)
    missing = _missing(funcs, database)
    if not missing:
        return 0
    if log:
        log(f"tuning {len(missing)} kernels, {trials} trials each, records in {folder}")
    start = time.perf_counter()
    with _quiet_meta_schedule():
        _tune_missing(missing, target, options, folder, database)
    if log:
        kept = sum(lookup(func, target, options) is None for func in missing)
        log(f"tuned {len(missing)} kernels in {time.perf_counter() - start:.0f} s; "
            f"{len(missing) - kept} beat their default schedule, {kept} keep it")
    return len(missing)


@contextlib.contextmanager
def _quiet_meta_schedule():
    """MetaSchedule prints its per-round tables on stdout unless its logger was configured; keep
    them to warnings (its setup raises the level to DEBUG, hence the restore)."""
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    saved = logger.level
    if saved == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(saved)


def _tune_missing(missing, target, options, folder, database):
    """The search for each kernel in `missing`, then its default schedule measured the same way."""
    from tvm.s_tir import meta_schedule as ms

    trials = options.tune_trials
    tvm_target = _tvm_target(target, options)
    workers = max(1, min(2, os.cpu_count() or 1))
    builder = _in_process_builder()
    runner = ms.runner.LocalRunner(timeout_sec=RUN_TIMEOUT_S, evaluator_config=ms.runner.EvaluatorConfig(
        number=3, repeat=1, min_repeat_ms=20))
    with tempfile.TemporaryDirectory(prefix="edgekeras-tune-") as work_dir, \
            _environment("TVM_NUM_THREADS", str(options.threads)):
        names = [f"kernel{i}" for i in range(len(missing))]
        loggers = ms.logging.get_loggers_from_work_dir(work_dir, names)
        tasks = [ms.TuneContext(mod=_workload(func), target=tvm_target, space_generator="post-order-apply",
                                search_strategy=ms.search_strategy.EvolutionarySearch(
                                    population_size=SEARCH_POPULATION),
                                task_name=name, rand_state=index, num_threads=workers, logger=logger).clone()
                 for index, (name, func, logger) in enumerate(zip(names, missing, loggers))]
        ms.tune.tune_tasks(tasks=tasks, task_weights=[1.0] * len(tasks), work_dir=work_dir,
                           max_trials_global=trials * len(tasks), max_trials_per_task=trials,
                           num_trials_per_iter=min(trials, 64), builder=builder, runner=runner, database=database,
                           cost_model=_cost_model(), task_scheduler="round-robin", module_equality="structural")
        defaults = read_defaults(folder)
        for func in missing:
            default = _default_schedule(func, target, options)
            defaults[_key(func)] = {"seconds": _measure(default, tvm_target, builder, runner),
                                    "schedule": _key(default)}
    (folder / DEFAULTS_FILE).write_text(json.dumps(defaults, indent=1, sort_keys=True) + "\n")


class KernelCollector:
    """Stands in for the KernelTable during a first lowering of the model: keeps each kernel as
    lowered and schedules none, so tuning sees every kernel before any is scheduled."""

    def __init__(self):
        self.funcs = []

    def add(self, func, hint):
        self.funcs.append(func)
        return f"ek_k{len(self.funcs) - 1}_{hint}", 0


def tune_model(graph, target, version, options):
    """Tunes the kernels of `graph` the records lack (one lowering of the model, no scheduling)."""
    from edgekeras.codegen.build import build_model

    collector = KernelCollector()
    build_model(graph, target, version, options, kernels=collector)
    return tune(collector.funcs, target, options, log=lambda text: print(f"edgekeras: {text}", file=sys.stderr))
