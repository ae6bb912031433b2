"""Schedules: how each TIR kernel is turned into fast code for its target.

`schedule_kernel` is the one entry point the kernel table calls. A tuned schedule from the tuning
records wins (`edgekeras.codegen.tuning`); otherwise the target's default schedule applies: CPU
targets (x86-64, AArch64, ARMv7) tile and vectorize (`cpu`), Cortex-M cores call int8
micro-kernels where they have DSP/MVE instructions (`cortex_m`), and a kernel a specialised
schedule does not recognise keeps the generic schedule (`generic`).
"""

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ScheduleOptions:
    """What the user asked of the kernels: `threads` the kernels may use at run time (parallel loops
    are emitted only when > 1), `tune_trials` MetaSchedule trials per kernel (0: no tuning),
    `tuning_records` the records folder (None: the default cache)."""
    threads: int = 1
    tune_trials: int = 0
    tuning_records: Optional[str] = None


def schedule_kernel(func, target, options=ScheduleOptions()):
    from edgekeras.codegen import tuning
    from edgekeras.codegen.schedules import cortex_m, cpu

    tuned = tuning.lookup(func, target, options)
    if tuned is not None:
        return tuned
    if target.is_mcu:
        return cortex_m.schedule(func, target, options)
    return cpu.schedule(func, target, options)
