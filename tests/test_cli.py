"""`edgekeras inspect`: a report for good files, one clear error line (no traceback) for bad ones."""

import json

import edgekeras as keras
from edgekeras.cli import main


def test_inspect_reports_layers_params_and_macs(tmp_path, capsys):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    path = tmp_path / "m.keras"
    model.save(path)
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [layer["class_name"] for layer in report["layers"]] == ["Conv2D", "Flatten", "Dense"]
    assert report["macs"] == 6 * 6 * 4 * 9 + 144 * 2
    assert report["params"] == model.count_params()


def test_inspect_bad_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "neither a .keras file" in err and "Traceback" not in err
