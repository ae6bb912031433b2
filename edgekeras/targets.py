"""Compilation targets, read from the TOML files in the repository's `targets/` folder.

A target file names the TVM target (as a dict), the C compiler with its flags and Debian package,
and the emulator command (empty for native). Microcontroller targets (kind "mcu") also name a
reference board (flash and RAM sizes, for budgets) and where the emulated machine maps flash and
RAM. Adding a target is adding a file; `--target` also accepts a path to a TOML file of the same form.
"""

import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

TARGETS_DIR = Path(__file__).resolve().parents[1] / "targets"


@dataclass(frozen=True)
class Board:
    """A microcontroller board: its real flash/RAM sizes, laid out where the emulator maps memory."""
    name: str
    flash_bytes: int
    ram_bytes: int
    flash_origin: int
    ram_origin: int
    vectors_origin: Optional[int] = None  # when the core boots from another region than flash


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    kind: str  # "linux" (shared library), "mcu" (firmware bundle) or "cuda" (TVM runtime library)
    tvm: dict
    cc: str
    cc_package: str
    cflags: tuple
    ldflags: tuple
    emulator: tuple = ()
    emulator_package: str = ""
    aliases: tuple = ()
    arena_align: int = 64
    board: Optional[Board] = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def emulated(self):
        return bool(self.emulator)

    @property
    def is_mcu(self):
        return self.kind == "mcu"

    @property
    def is_cuda(self):
        return self.kind == "cuda"

    def tvm_target(self, emit="obj"):
        """The LLVM target for object code; `emit="c"` gives TVM's C source target for the same CPU."""
        import tvm

        if emit == "c":
            return tvm.target.Target({"kind": "c", **{k: v for k, v in self.tvm.items() if k == "mcpu"}})
        return tvm.target.Target(dict(self.tvm))

    def require_tools(self, emulator=True):
        """Raise a clear error naming the Debian package when the compiler (or the emulator) is missing."""
        missing = [(self.cc, self.cc_package)]
        if emulator and self.emulator:
            missing.append((self.emulator[0], self.emulator_package))
        for tool, package in missing:
            if shutil.which(tool) is None:
                raise ToolMissingError(
                    f"Target '{self.name}' needs '{tool}', which is not installed: "
                    f"apt-get install {package} (or run `make setup`)."
                )


class ToolMissingError(RuntimeError):
    pass


def _board(data, emulator, path):
    if "board" not in data:
        if data["kind"] == "mcu":
            raise ValueError(f"Target file {path} is kind 'mcu' but has no [board] table (name, flash_bytes, ram_bytes).")
        return None
    board = data["board"]
    return Board(name=board["name"], flash_bytes=int(board["flash_bytes"]), ram_bytes=int(board["ram_bytes"]),
                 flash_origin=int(emulator.get("flash_origin", 0)), ram_origin=int(emulator.get("ram_origin", 0)),
                 vectors_origin=emulator.get("vectors_origin"))


def _from_file(path):
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"Cannot read target file {path}: {err}") from None
    try:
        compiler, emulator = data["compiler"], data.get("emulator", {})
        return Target(
            name=data["name"], description=data.get("description", ""), kind=data["kind"], tvm=data["tvm"],
            cc=compiler["cc"], cc_package=compiler.get("package", compiler["cc"]),
            cflags=tuple(compiler.get("cflags", ())), ldflags=tuple(compiler.get("ldflags", ())),
            emulator=tuple(emulator.get("command", ())), emulator_package=emulator.get("package", ""),
            aliases=tuple(data.get("aliases", ())), arena_align=int(data.get("arena_align", 64)),
            board=_board(data, emulator, path),
            extra={k: v for k, v in data.items() if k not in {"name", "description", "kind", "tvm", "compiler",
                                                              "emulator", "aliases", "arena_align", "board"}},
        )
    except KeyError as err:
        raise ValueError(f"Target file {path} lacks the key {err}.") from None


def all_targets():
    return [_from_file(p) for p in sorted(TARGETS_DIR.glob("*.toml"))]


def get_target(name):
    """A target by name or alias, or from a TOML file path."""
    if name.endswith(".toml") and Path(name).is_file():
        return _from_file(name)
    targets = all_targets()
    for target in targets:
        if name == target.name or name in target.aliases:
            return target
    names = ", ".join(t.name + (f" ({', '.join(t.aliases)})" if t.aliases else "") for t in targets)
    raise ValueError(f"Unknown target '{name}'. Valid targets: {names}.")
