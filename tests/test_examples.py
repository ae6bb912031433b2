"""The getting-started scripts run with edgekeras, and unchanged but for the import with real Keras."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "getting_started"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
IMPORT_LINE = "import edgekeras as keras"


def _run(source, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(source)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "PYTHONHASHSEED": "0",
           "PYTHONPATH": str(EXAMPLES.parent)}
    result = subprocess.run([sys.executable, str(script)], cwd=EXAMPLES, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"test_accuracy=([0-9.]+)", result.stdout)
    assert match, result.stdout[-2000:]
    return float(match.group(1))


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_with_edgekeras(name, tmp_path):
    source = (EXAMPLES / name).read_text()
    assert source.count(IMPORT_LINE) == 1, "the example must name edgekeras on exactly one line"
    assert _run(source, tmp_path) > 0.85


@pytest.mark.parametrize("name", SCRIPTS)
def test_same_example_runs_with_real_keras(name, tmp_path):
    pytest.importorskip("keras")
    source = (EXAMPLES / name).read_text()
    swapped = source.replace(IMPORT_LINE, "import keras").replace("from edgekeras import", "from keras import")
    assert "import edgekeras" not in swapped and "from edgekeras" not in swapped
    assert _run(swapped, tmp_path) > 0.85
