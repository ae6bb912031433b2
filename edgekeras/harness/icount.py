"""Exact executed-instruction counts of Cortex-M firmware under qemu-system-arm (QEMU has no cycle model):
total, between the firmware's ek_measure_begin()/ek_measure_end() calls, and per address range, by the
TCG plugin runtime_c/qemu_plugin/ek_icount.c, which Debian lacks, so it is compiled here and cached."""

import hashlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edgekeras.harness.emulator import EmulatorError, build_once, cache_dir, one_line

PLUGIN_SOURCE = Path(__file__).resolve().parents[2] / "runtime_c" / "qemu_plugin" / "ek_icount.c"
_PLUGIN_FLAGS = ("-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror")
_COUNTS_FILE = re.compile(r"(?:(?:total|measured|windows) [0-9]+\n|range \S+ [0-9]+\n)*")


@dataclass(frozen=True)
class InstructionCounts:
    total: int
    measured: int  # summed over the begin..end windows
    windows: int
    ranges: dict = field(default_factory=dict)  # name -> instructions executed inside that range

    @property
    def per_window(self):
        return self.measured / self.windows if self.windows else None


def _run(command, what, package):
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=120)
    except FileNotFoundError:
        raise EmulatorError(f"{what} needs {command[0]}: install the Debian package {package}.") from None
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EmulatorError(f"{what}: {err}") from None
    if proc.returncode != 0:
        raise EmulatorError(f"{what} failed: {one_line(proc.stderr) or f'exit code {proc.returncode}'}")
    return proc.stdout


def build_plugin():
    """The plugin's .so, compiled with the host gcc on first use."""
    key = hashlib.sha256(PLUGIN_SOURCE.read_bytes() + " ".join(_PLUGIN_FLAGS).encode()).hexdigest()[:16]
    return build_once(cache_dir().parent / "plugins" / f"ek_icount-{key}.so",
                      lambda partial: _run(["gcc", *_PLUGIN_FLAGS, "-o", partial, str(PLUGIN_SOURCE)],
                                           "Building the QEMU plugin", "gcc"))


def symbols(elf_path):
    """{name: (address, size)} of the ELF's sized symbols; function addresses without the Thumb bit."""
    listing = _run(["arm-none-eabi-nm", "-S", str(elf_path)], f"Reading {elf_path}", "binutils-arm-none-eabi")
    rows = [row for row in (line.split() for line in listing.splitlines()) if len(row) == 4]
    is_code = {"T", "t"}  # text symbols: on Thumb their value may carry bit 0 (the Thumb bit)
    return {name: (int(address, 16) & ~int(kind in is_code), int(size, 16)) for address, size, kind, name in rows}


def plugin_args(plugin, out_path, begin=None, end=None, ranges_path=None):
    """The qemu-system-arm arguments that load the plugin, writing its counts to `out_path`."""
    options = [str(plugin), f"out={out_path}"]
    options += [f"{key}={address:#x}" for key, address in (("begin", begin), ("end", end)) if address is not None]
    options += [f"ranges={ranges_path}"] if ranges_path is not None else []
    # QEMU's option syntax: a literal comma (in a path) is doubled.
    return ["-plugin", ",".join(option.replace(",", ",,") for option in options)]


def write_ranges(path, ranges):
    """Writes {name: (start, size)} as the plugin's ranges file: one 'HEXSTART SIZE NAME' per line."""
    for name in ranges:
        if not name or len(name) > 127 or any(c.isspace() for c in name):
            raise ValueError(f"Range name {name!r} must be 1 to 127 characters without whitespace.")
    Path(path).write_text("".join(f"{start:x} {size} {name}\n" for name, (start, size) in ranges.items()))


def read_counts(out_path):
    """The counts the plugin wrote at QEMU's exit (the file stays empty when QEMU was killed)."""
    try:
        text = Path(out_path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise EmulatorError(f"Cannot read instruction counts from {out_path}: {err}") from None
    facts = {fact: int(n) for fact, n in re.findall(r"^(total|measured|windows) ([0-9]+)$", text, re.M)}
    if not _COUNTS_FILE.fullmatch(text) or len(facts) != 3:
        raise EmulatorError(f"Cannot read instruction counts from {out_path}: not the plugin's 'total', 'measured', "
                            "'windows' and 'range' lines (empty when QEMU was killed before exiting).")
    ranges = {name: int(n) for name, n in re.findall(r"^range (\S+) ([0-9]+)$", text, re.M)}
    return InstructionCounts(facts["total"], facts["measured"], facts["windows"], ranges)
