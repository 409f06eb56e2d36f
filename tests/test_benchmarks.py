"""The benchmark runner keeps working (a smoke run: it measures, it asserts no speed)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_benchmark_runner_smoke(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--rounds",
            "1",
            "--cases",
            "two_layer,numgrad,conv",
            "--dtype",
            "float32",
            "--json",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "1 TwoLayerNet step float32" in out.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["backend"] == "numpy" and data["machine"]["cpus"]
    assert {"xpnet", "numpy", "book"} <= set(data["float32"]["two_layer"])
