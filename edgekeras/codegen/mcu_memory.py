"""Flash and RAM of a Cortex-M bundle, measured from its objects, held against the board's sizes.

Flash is what the objects put in read-only memory (code, constants and initial values of data);
RAM is the caller's arena plus the bundle's static data plus the stack of one inference. The
stack is the deepest call chain (ek_model_run → ek_run → a kernel → the workspace/error hooks),
each frame from GCC's -fstack-usage, or, for LLVM kernel objects, read from their prologues.
"""

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from edgekeras.codegen.artifact import BuildError

# Runtime functions a kernel can reach, in call order (static helpers may be inlined away).
_HOOK_CHAIN = (("TVMBackendAllocWorkspace", "TVMFFIErrorSetRaisedFromCStr"), ("error_uint", "error_str", "error_begin"),
               ("error_end",), ("ek_port_log",))
_PUSH = re.compile(r"\b(push|stmdb)(\.w)?\s+(sp!,\s*)?\{([^}]*)\}")
_VPUSH = re.compile(r"\bvpush(\.\d+)?\s+\{([^}]*)\}")
_SUB_SP = re.compile(r"\bsub(w|\.w)?\s+sp,\s*(sp,\s*)?#(\d+)")


class BudgetError(ValueError):
    """The model does not fit the board (or the budget given on the command line)."""


@dataclass(frozen=True)
class MemoryReport:
    flash: dict  # part -> bytes: kernels, weights, model, runtime
    ram: dict  # arena, static, stack
    board: str
    flash_budget: int
    ram_budget: int

    @property
    def flash_bytes(self):
        return sum(self.flash.values())

    @property
    def ram_bytes(self):
        return sum(self.ram.values())

    def to_json(self):
        return {**asdict(self), "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes}


def _part(object_name):
    stem = Path(object_name).stem
    return stem if stem in ("kernels", "weights", "model") else "runtime"


def object_sizes(size_tool, objects):
    """{object name: (flash bytes, static RAM bytes)} from `size` (Berkeley: text includes rodata)."""
    out = subprocess.run([size_tool, *map(str, objects)], capture_output=True, text=True)
    if out.returncode:
        raise BuildError(f"`{size_tool}` failed: {out.stderr.strip()}")
    sizes = {}
    for line in out.stdout.splitlines()[1:]:
        text, data, bss, _, _, name = line.split(None, 5)
        sizes[Path(name).name] = (int(text) + int(data), int(data) + int(bss))
    return sizes


def stack_usage(build_dir):
    """{function: frame bytes} from every .su file GCC wrote next to the objects."""
    frames = {}
    for su in Path(build_dir).glob("*.su"):
        for line in su.read_text().splitlines():
            where, size, _ = line.split("\t")
            frames[where.rsplit(":", 1)[-1]] = int(size)
    return frames


def object_frames(objdump_tool, obj):
    """{function: frame bytes} of an object without .su files, from each function's prologue."""
    out = subprocess.run([objdump_tool, "-d", "--no-show-raw-insn", str(obj)], capture_output=True, text=True)
    if out.returncode:
        raise BuildError(f"`{objdump_tool} -d` failed: {out.stderr.strip()}")
    frames, current = {}, None
    for line in out.stdout.splitlines():
        header = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if header:
            current = header.group(1)
            frames[current] = 0
            continue
        if current is None:
            continue
        if m := _PUSH.search(line):
            frames[current] += 4 * _register_count(m.group(4))
        elif m := _VPUSH.search(line):
            width = 8 if m.group(2).strip().startswith("d") else 4
            frames[current] += width * _register_count(m.group(2))
        elif m := _SUB_SP.search(line):
            frames[current] += int(m.group(3))
    return frames


def _register_count(registers):
    count = 0
    for item in registers.split(","):
        first, _, last = item.strip().partition("-")
        count += 1 if not last else int(last[1:]) - int(first[1:]) + 1
    return count


def stack_bound(frames, kernel_symbols):
    """Bytes of stack one inference can use: the deepest chain through the runtime and any kernel."""
    # an LLVM kernel is a packed entry point that calls its `_compute_` body: both frames are live
    kernel = max((frames.get(f"__tvm_ffi_{s}", 0) + frames.get(f"{s}_compute_", 0) for s in kernel_symbols), default=0)
    hooks = sum(max(frames.get(name, 0) for name in level) for level in _HOOK_CHAIN)
    return frames.get("ek_model_run", 0) + frames.get("ek_run", 0) + frames.get("bind_args", 0) + kernel + hooks


def measure(target, objects, frames, kernel_symbols, arena_bytes, flash_budget=None, ram_budget=None):
    """The MemoryReport of a built bundle; budgets default to the target's reference board."""
    size_tool = target.cc.replace("gcc", "size")
    flash, static = {}, 0
    for name, (rom, ram) in object_sizes(size_tool, objects).items():
        flash[_part(name)] = flash.get(_part(name), 0) + rom
        static += ram
    board = target.board
    return MemoryReport(
        flash={part: flash.get(part, 0) for part in ("kernels", "weights", "model", "runtime")},
        ram={"arena": arena_bytes, "static": static, "stack": stack_bound(frames, kernel_symbols)},
        board=board.name, flash_budget=board.flash_bytes if flash_budget is None else int(flash_budget),
        ram_budget=board.ram_bytes if ram_budget is None else int(ram_budget))


def check_fits(report, model_name, target_name, int8):
    """Raise BudgetError naming what is over, by how much, and what to do."""
    problems = []
    for kind, used, budget, parts in (("flash", report.flash_bytes, report.flash_budget, report.flash),
                                      ("RAM", report.ram_bytes, report.ram_budget, report.ram)):
        if used > budget:
            detail = " + ".join(f"{part} {size:,}" for part, size in parts.items() if size)
            problems.append(f"{kind} needs {used:,} B ({detail}) but the budget is {budget:,} B: over by "
                            f"{used - budget:,} B ({100 * (used - budget) / budget:.0f} %)")
    if problems:
        advice = "Pick a bigger board" if int8 else "Quantize it (--quantize int8), pick a bigger board"
        raise BudgetError(f"Model '{model_name}' does not fit {report.board} ({target_name}): {'; '.join(problems)}. "
                          f"{advice}, or raise --flash-budget/--ram-budget.")


def parse_bytes(text):
    """'640K', '2M', '1.4M' or a plain byte count, as bytes (K = 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)[bB]?\s*", str(text))
    if not match:
        raise ValueError(f"Cannot read the size {text!r}: use bytes or a K/M suffix, e.g. 640K or 2M.")
    value = float(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    return int(value)
