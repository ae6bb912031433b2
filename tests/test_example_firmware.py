"""examples/cortex_m_digits.py builds real firmware around a compiled bundle and runs it on QEMU's
Cortex-M4: the digit it prints must be the held-out digit's label and the Python model's answer."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PACKAGES = {"make": "make", "arm-none-eabi-gcc": "gcc-arm-none-eabi", "qemu-system-arm": "qemu-system-arm"}


def _require(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}: install the Debian package {PACKAGES[tool]}")


def test_firmware_prints_the_expected_digit(tmp_path):
    _require("make", "arm-none-eabi-gcc", "qemu-system-arm")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "cortex_m_digits.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    firmware = re.search(r"^digit: (\d+) \(expected (\d+)\)$", proc.stdout, re.MULTILINE)
    python = re.search(r"^Python, float model: (\d+)$", proc.stdout, re.MULTILINE)
    assert firmware and python, proc.stdout
    assert firmware.group(1) == firmware.group(2) == python.group(1)
    assert (tmp_path / "build" / "digits.elf").is_file()


def test_makefile_names_a_missing_bundle():
    _require("make")
    proc = subprocess.run(["make", "-C", str(EXAMPLES / "cortex_m_digits"), "BUNDLE=no/such/bundle"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "BUNDLE=no/such/bundle is not a Cortex-M bundle" in proc.stderr
