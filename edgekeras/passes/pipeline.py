"""The compiler's named phases. The graph phases are plain lists of passes, run in order with the
verifier after each pass, so a broken rewrite is reported at the pass that made it. `quantize`
belongs to `edgekeras.quantize`, `lower` and `emit` to the code generator; they are named here so
`--stop-after` / `--dump-ir` know them.
"""

from edgekeras.ir.verifier import IRError, verify
from edgekeras.passes import (
    canonical_layout,
    dead_code,
    drop_identities,
    fold_batch_norm,
    fold_constants,
    fold_pad,
    fuse_activation,
    fuse_bias,
)

PHASES = ("import", "optimize", "quantize", "lower", "emit")

GRAPH_PHASES = {
    "import": [verify],
    "optimize": [
        drop_identities.run,
        fold_constants.run,
        canonical_layout.run,
        fold_batch_norm.run,
        fold_pad.run,
        fuse_bias.run,
        fuse_activation.run,
        dead_code.run,
    ],
}


def check_phase(name):
    """Return `name` if it is a phase, else raise ValueError listing the valid ones."""
    if name not in PHASES:
        raise ValueError(f"Unknown phase {name!r}; valid phases: {', '.join(PHASES)}.")
    return name


def pass_name(fn):
    """'fold_pad' for fold_pad.run, 'verify' for verify: how errors and dumps name a pass."""
    return fn.__module__.rsplit(".", 1)[-1] if fn.__name__ == "run" else fn.__name__


def run_graph_phases(graph, stop_after=None, on_phase=None):
    """Run `import` then `optimize` on a copy of `graph` (the caller's graph is left as it was),
    stopping after `stop_after` when it names one of them; `on_phase(name, graph)` sees each result."""
    if stop_after is not None:
        check_phase(stop_after)
    graph = graph.copy()
    for phase, passes in GRAPH_PHASES.items():
        for fn in passes:
            graph = fn(graph)
            try:
                verify(graph)
            except IRError as err:
                raise IRError(f"after pass {pass_name(fn)} ({phase} phase): {err}") from None
        if on_phase is not None:
            on_phase(phase, graph)
        if phase == stop_after:
            break
    return graph
