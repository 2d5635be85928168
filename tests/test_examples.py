"""The examples run as scripts: the seed tutorial's checks hold and the quickstart's loss falls."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from idx_files import write_idx

ROOT = Path(__file__).resolve().parents[1]
# One BLAS thread: the examples' matmuls are small, and spinning BLAS threads on a busy CI machine cost 10x.
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _run(*args, timeout=120):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_seed_tutorial_checks_hold():
    out = _run("examples/seed_tutorial.py")
    checks = re.findall(r"^(.*?): (True|False)$", out, flags=re.M)
    assert len(checks) == 5 and all(result == "True" for _, result in checks), out
    assert "Cell parameters: ['w', 'b']" in out


def _epochs(out):
    return [tuple(map(float, m)) for m in re.findall(r"train loss ([\d.]+), test loss ([\d.]+), test accuracy ([\d.]+)%", out)]


def test_quickstart_loss_falls_on_digits():
    out = _run("examples/quickstart.py", "--epochs", "3")
    epochs = _epochs(out)
    assert "digits upscaled to 28x28" in out and len(epochs) == 3
    assert epochs[-1][0] < epochs[0][0] and epochs[-1][1] < epochs[0][1] < 2.31
    assert epochs[-1][2] > 20.0  # better than chance (10%)


def test_quickstart_compiled_step_matches_eager():
    eager = _epochs(_run("examples/quickstart.py", "--epochs", "1"))
    compiled = _epochs(_run("examples/quickstart.py", "--epochs", "1", "--jit"))
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)


def test_quickstart_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 10, size=n)
        images = np.zeros((n, 28, 28))
        for i, label in enumerate(labels):  # a bright bar whose row encodes the class
            images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", images, gzipped=True)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", labels, gzipped=True)
    out = _run("examples/quickstart.py", "--data-dir", str(tmp_path), "--epochs", "2")
    epochs = _epochs(out)
    assert "train (256, 1, 28, 28), test (64, 1, 28, 28)" in out and len(epochs) == 2
    assert epochs[1][0] < epochs[0][0]
