"""Default schedules for CPU targets (x86-64, AArch64, ARMv7). In progress: generic for now."""

from edgekeras.codegen.schedules import generic


def schedule(func, target, options):
    return generic.schedule(func)
