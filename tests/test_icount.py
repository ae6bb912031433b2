"""Instruction counting with the QEMU plugin: a tiny Cortex-M4 firmware whose measured block is written in
assembly, so the executed-instruction counts are known exactly and must come out exactly, run after run."""

import shutil
import subprocess
from pathlib import Path

import pytest

from edgekeras.codegen.linker_script import linker_script
from edgekeras.harness import icount
from edgekeras.harness.emulator import EmulatorError
from edgekeras.targets import get_target

FIRMWARE = Path(__file__).resolve().parents[1] / "runtime_c" / "firmware"
QEMU = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native"]
SPINS = (100, 200, 300, 700, 5)  # one measured window per entry, each of a different length

# spin(n) executes 2n + 1 instructions (subs, bne per turn; bx lr). A window of sample(n) is the
# marker's `bx lr`, `mov r0, r4`, `bl spin`, spin(n), `bl ek_measure_end`: 2n + 5 instructions.
TEST_MAIN = r"""
#include <stdint.h>
void sample(uint32_t n);
__asm__(".syntax unified\n.thumb\n.text\n"
        ".global ek_measure_begin\n.type ek_measure_begin, %function\n.thumb_func\n"
        "ek_measure_begin: bx lr\n.size ek_measure_begin, .-ek_measure_begin\n"
        ".global ek_measure_end\n.type ek_measure_end, %function\n.thumb_func\n"
        "ek_measure_end: bx lr\n.size ek_measure_end, .-ek_measure_end\n"
        ".global spin\n.type spin, %function\n.thumb_func\n"
        "spin: subs r0, r0, #1\n bne spin\n bx lr\n.size spin, .-spin\n"
        ".global sample\n.type sample, %function\n.thumb_func\n"
        "sample: push {r4, lr}\n mov r4, r0\n bl ek_measure_begin\n mov r0, r4\n bl spin\n"
        " bl ek_measure_end\n pop {r4, pc}\n.size sample, .-sample\n");
static const uint32_t spins[] = {SPINS};
int main(void) {
  for (uint32_t i = 0; i < sizeof spins / sizeof spins[0]; i++) sample(spins[i]);
  return 0;
}
"""


def _require(tool, package):
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool}: install the Debian package {package}")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The plugin, built into this worker's temp cache, never the user's."""
    _require("gcc", "gcc")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEKERAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return icount.build_plugin()


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    _require("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    _require("qemu-system-arm", "qemu-system-arm")
    target = get_target("cortex-m4")
    folder = tmp_path_factory.mktemp("icount-fw")
    (folder / "fw.ld").write_text(linker_script(target.board, 4096))
    (folder / "main.c").write_text(TEST_MAIN)
    elf = folder / "fw.elf"
    command = [target.cc, *target.cflags, "-nostartfiles", "-Wall", "-Wextra", "-Werror",
               f"-DSPINS={','.join(map(str, SPINS))}", f"-I{FIRMWARE}", str(folder / "main.c"),
               str(FIRMWARE / "ek_startup.c"), str(FIRMWARE / "ek_semihost.c"), "-T", str(folder / "fw.ld"),
               "-lgcc", "-o", str(elf)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return elf


def run_qemu(elf, extra_args):
    return subprocess.run([*QEMU, "-kernel", str(elf), *extra_args], capture_output=True, text=True, timeout=60)


def count(plugin, elf, folder):
    """Runs the firmware once with markers and ranges over spin and ek_measure_begin."""
    table = icount.symbols(elf)
    ranges_path, out_path = folder / "ranges.txt", folder / "counts.txt"
    icount.write_ranges(ranges_path, {name: table[name] for name in ("spin", "ek_measure_begin")})
    args = icount.plugin_args(plugin, out_path, begin=table["ek_measure_begin"][0],
                              end=table["ek_measure_end"][0], ranges_path=ranges_path)
    proc = run_qemu(elf, args)
    assert proc.returncode == 0, proc.stderr
    return icount.read_counts(out_path)


def test_counts_are_exact(plugin, firmware, tmp_path):
    counts = count(plugin, firmware, tmp_path)
    assert counts.windows == len(SPINS)
    assert counts.measured == sum(2 * n + 5 for n in SPINS)
    assert counts.per_window == counts.measured / len(SPINS)
    assert counts.ranges == {"spin": sum(2 * n + 1 for n in SPINS), "ek_measure_begin": len(SPINS)}
    assert counts.total > counts.measured


def test_counts_repeat_and_paths_may_hold_commas(plugin, firmware, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b,c"
    first.mkdir(), second.mkdir()
    assert count(plugin, firmware, first) == count(plugin, firmware, second)


def test_without_markers_only_totals(plugin, firmware, tmp_path):
    proc = run_qemu(firmware, icount.plugin_args(plugin, tmp_path / "counts.txt"))
    assert proc.returncode == 0, proc.stderr
    counts = icount.read_counts(tmp_path / "counts.txt")
    assert (counts.windows, counts.measured, counts.per_window, counts.ranges) == (0, 0, None, {})
    assert counts.total > sum(2 * n + 1 for n in SPINS)


@pytest.mark.parametrize("options, message", [
    ("begin=0x40", "missing required argument out=PATH"),
    ("out=counts.txt,start=0x40", "unknown argument"),
    ("out=counts.txt,begin=0x4g", "not a hex address: 0x4g"),
    ("out=counts.txt,ranges=missing.txt", "cannot read ranges file missing.txt"),
    ("out=counts.txt,ranges=bad.txt", "ranges file is not lines of 'HEXSTART SIZE NAME': bad.txt"),
    ("out=no/such/dir/counts.txt", "cannot write output file no/such/dir/counts.txt"),
])
def test_bad_plugin_arguments_stop_qemu(plugin, firmware, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.txt").write_text("40 8 spin\n\n40 spin\n")
    proc = run_qemu(firmware, ["-plugin", f"{plugin},{options}"])
    assert proc.returncode != 0
    assert f"ek_icount: {message}" in proc.stderr


@pytest.mark.parametrize("text", ["", "total 5\nmeasured 2\n", "total five\nmeasured 2\nwindows 1\n",
                                  "garbage\n", "total 5 6\nmeasured 2\nwindows 1\n"])
def test_unreadable_counts_raise(tmp_path, text):
    (tmp_path / "counts.txt").write_text(text)
    with pytest.raises(EmulatorError, match="Cannot read instruction counts"):
        icount.read_counts(tmp_path / "counts.txt")


def test_missing_counts_file_raises(tmp_path):
    with pytest.raises(EmulatorError, match="Cannot read instruction counts"):
        icount.read_counts(tmp_path / "none.txt")


def test_range_names_must_be_one_word(tmp_path):
    with pytest.raises(ValueError, match="without whitespace"):
        icount.write_ranges(tmp_path / "ranges.txt", {"two words": (0x40, 8)})


def test_missing_gcc_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmulatorError, match="Debian package gcc"):
        icount.build_plugin()


def test_plugin_build_failure_is_one_line(monkeypatch, tmp_path):
    broken = tmp_path / "ek_icount.c"
    broken.write_text("int qemu_plugin_version = ;\n")
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(icount, "PLUGIN_SOURCE", broken)
    with pytest.raises(EmulatorError, match="Building the QEMU plugin failed: .*error") as err:
        icount.build_plugin()
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "cache" / "plugins").iterdir())  # no partial file left behind
