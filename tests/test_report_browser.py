"""report.html in a real browser (headless Chromium): the banner says PASS in green or FAIL in red, a planted fault
has its own banner, and every embedded image decodes.

CI installs Debian's chromium (.ci/run) and sets FUNCAD_REQUIRE_BROWSER=1, so there a missing browser fails the test;
elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_process import FAST
from PIL import Image

from harness import cli


def _browser() -> str:
    found = next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))), None)
    if found is None:
        if os.environ.get("FUNCAD_REQUIRE_BROWSER"):
            pytest.fail("no chromium on PATH (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH (apt-get install -y chromium); CI installs it")
    return found


def _chromium(browser: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert cli.main(["run", "tutorial", *FAST, "--out", "passing"]) == 0
        assert cli.main(["run", "tutorial", *FAST, "--plant", "torch:param:w:4,2:1:0.5", "--out", "failing"]) == 1
    finally:
        os.chdir(cwd)
    return {"pass": root / "passing/report.html", "fail": root / "failing/report.html"}


def _banner_pixels(png: bytes, colour: str) -> int:
    """How many pixels of the screenshot have the banner's background colour."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - rgb).max(axis=1) <= 2).sum())


@pytest.mark.parametrize(("kind", "text", "colour"), [
    ("pass", "PASS: all 1 verdicts pass", "#1b7a34"),
    ("fail", "FAIL: 1 of 1 verdicts fail; worst: tutorial float32, parameter w, element (4, 2), step 1", "#c62828"),
])
def test_the_banner_says_the_verdict_in_its_colour_and_every_image_decodes(reports, tmp_path, kind, text, colour):
    browser = _browser()
    dom = _chromium(browser, reports[kind], "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    banners = re.findall(r'<div class="banner (\w+)" id="banner-\w+">([^<]*)</div>', dom.stdout)
    assert (kind, text) in banners
    assert (("plant" in dict(banners)) == (kind == "fail"))  # a planted fault announces itself above the verdict
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', dom.stdout)
    assert [alt for alt, _ in images] == ["gradient errors", "loss curves"]  # no timing: no speed plot
    for alt, data in images:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()  # decodes every pixel; raises on a broken PNG
        assert image.width > 300 and image.height > 150, alt
    shot = tmp_path / "shot.png"
    done = _chromium(browser, reports[kind], f"--screenshot={shot}", "--window-size=1280,600")
    assert done.returncode == 0 and shot.exists(), done.stderr
    assert _banner_pixels(shot.read_bytes(), colour) > 1280 * 20  # a wide band of the banner's colour at the top
