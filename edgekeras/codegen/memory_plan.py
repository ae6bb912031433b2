"""Static memory planning: every activation tensor gets an offset in one arena.

Tensors are grouped into storages: a view (reshape/identity) shares its input's storage, and an
in-place kernel (elementwise, same size) writes into the storage of an input that dies there.
A storage lives from the step that first writes it to the last step that reads it; graph inputs
live from the start and graph outputs to the end. Storages are placed largest first at the lowest
aligned offset that overlaps no placed storage with an intersecting lifetime. The lower bound is
the largest sum of sizes of storages live at one step: no plan over this schedule can beat it.
"""

from dataclasses import dataclass


@dataclass
class Step:
    reads: list  # tensor keys
    writes: list
    inplace: bool = False  # the kernel may write its output over its first input


@dataclass
class MemoryPlan:
    offsets: dict  # tensor key -> arena offset
    arena_bytes: int
    lower_bound_bytes: int


def _align(n, alignment):
    return -(-n // alignment) * alignment


def plan_memory(sizes, steps, inputs, outputs, views, alignment=64):
    """`sizes`: bytes per tensor key; `views`: key -> key it aliases; `inputs`/`outputs`: graph keys."""
    storage = {}

    def root(key):
        while key in storage:
            key = storage[key]
        return key

    for view, base in views.items():
        storage[view] = base
    end = len(steps)
    first, last = {}, {}

    def touch(key, step):
        key = root(key)
        first.setdefault(key, step)
        last[key] = max(last.get(key, step), step)

    for key in inputs:
        touch(key, -1)
    for index, step in enumerate(steps):
        if step.inplace and step.reads and len(step.writes) == 1:
            source, target = root(step.reads[0]), step.writes[0]
            dies_here = last.get(source) is not None and not _read_later(steps, index, source, root)
            protected = {root(k) for k in list(inputs) + list(outputs)}
            if dies_here and source not in protected and sizes[target] == sizes[source] and target not in protected:
                storage[target] = source
        for key in step.reads + step.writes:
            touch(key, index)
    for key in outputs:
        touch(key, end)
    roots = sorted(first, key=lambda k: (-sizes[k], first[k], k))
    placed, offsets = [], {}
    for key in roots:
        offset = 0
        for other_offset, other in sorted((offsets[o], o) for o in placed):
            if last[other] < first[key] or last[key] < first[other]:
                continue
            if offset + sizes[key] <= other_offset:
                break
            offset = max(offset, _align(other_offset + sizes[other], alignment))
        offsets[key] = offset
        placed.append(key)
    arena = _align(max((offsets[k] + sizes[k] for k in roots), default=0), alignment)
    bound = max((sum(sizes[k] for k in roots if first[k] <= s <= last[k]) for s in range(-1, end + 1)), default=0)
    all_keys = set(sizes)
    return MemoryPlan({key: offsets[root(key)] for key in all_keys}, arena, bound)


def _read_later(steps, index, source, root):
    return any(root(k) == source for step in steps[index + 1:] for k in step.reads)
