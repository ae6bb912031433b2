"""Default schedules for Cortex-M targets. In progress: generic for now."""

from edgekeras.codegen.schedules import generic


def schedule(func, target, options):
    return generic.schedule(func)
