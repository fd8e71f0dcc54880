"""The trial report, from phantoms made on the command line to the page a headless browser shows.

`onfh phantom --patient-id --study-date` makes a two-visit cohort, `onfh batch` measures it (one QC
picture per hip and visit), `onfh longitudinal` writes the report, and Chromium opens it: the flow
table, the swimmer plot, the per-hip figures and every QC picture must be shown (each picture marks
itself once the browser has drawn it). Skips cleanly without Chromium.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from onfh_imaging.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1300,5000",
         "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/setup-system.sh installs it)")
def test_report_in_a_headless_browser(tmp_path, capsys):
    from onfh_imaging.phantom import clone_phantom_study, load_truth

    cohort = tmp_path / "cohort"
    small = ["--hips", "right", "--matrix", "128", "--slices", "16", "--pixel", "1.4", "--lesion", "large"]
    assert main(["phantom", str(cohort / "base"), *small, "--patient-id", "TRIAL01", "--study-date", "2024-01-10"]) == 0
    truth = load_truth(cohort / "base")
    assert (truth["patient_id"], truth["spec"]["study_date"]) == ("TRIAL01", "20240110")
    clone_phantom_study(cohort / "base", cohort / "m12", patient_id="TRIAL01", study_date="20250112")
    clone_phantom_study(cohort / "base", cohort / "p2", patient_id="TRIAL02", study_date="20240201")
    capsys.readouterr()
    assert main(["phantom", str(tmp_path / "bad"), "--study-date", "01/02/2024"]) != 0
    assert "not a date" in capsys.readouterr().err
    results, report = tmp_path / "results", tmp_path / "report"
    assert main(["batch", str(cohort), "--out", str(results), "--processes", "0", "--no-progress"]) == 0
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient_id,side,thr_date,withdrawal_date,withdrawal_reason\n"
                        "TRIAL02,right,,2024-06-01,moved away\n")
    assert main(["longitudinal", str(results), "--out", str(report), "--clinical", str(clinical),
                 "--endpoint", "free = no_thr & no_stage_progression"]) == 0
    assert len(list((report / "qc").glob("*.png"))) == 3  # every hip and visit

    page = (report / "index.html").resolve().as_uri()
    dom = _chromium(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "id=\"flow\"" in html and "Flow of hips per visit" in html
    assert "moved away" in html  # the withdrawal and its reason
    assert "primary endpoint: head sphericity maintained and bone regeneration" in html
    assert "free of THR and no stage progression" in html
    assert "alt=\"swimmer plot: one line per hip\"" in html
    shown = re.findall(r"<img[^>]*class=\"shown\"[^>]*alt=\"QC ", html) + re.findall(
        r"<img[^>]*alt=\"QC [^>]*class=\"shown\"", html)
    assert len(shown) == 3, html[-3000:]
    assert "class=\"missing\"" not in html
    assert len(re.findall(r"alt=\"trajectories of [^\"]+\"[^>]*class=\"shown\"|class=\"shown\"[^>]*alt=\"trajectories",
                          html)) == 2

    shot = tmp_path / "page.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", page)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[1] == 1300 and pixels.std() > 10  # a page with figures, not a blank one
