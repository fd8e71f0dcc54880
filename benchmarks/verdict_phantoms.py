"""One verdict per hip and visit on phantom studies of known ARCO 2019 stage, both phantom families.

Run ``.venv/bin/python benchmarks/verdict_phantoms.py [--family sdf|labelmap] [--keep DIR]``: writes each
study (coronal T1 + STIR, AP and frog-leg radiographs of the same hip in the same study), measures it with
:func:`onfh_imaging.pipeline.measure_path` as ``onfh measure`` does, and compares the visit's verdict
(:func:`onfh_imaging.verdict.with_verdicts`) with the stage the phantom was built to have. Prints a
markdown table and writes it to ``benchmarks/results/verdict_phantoms.md``.

Stages I and II: the "lesion" case draws the necrotic lesion's dense margin and core on the radiographs
(ARCO II); the "occult lesion" case draws the same lesion radiographically occult (an early lesion without
mineral change: band and core attenuate as marrow on the radiographs while MRI shows it, ARCO I). The
verdict reads the radiographic finding (:mod:`onfh_imaging.measure.radiograph_lesion`; on the AP view of a
visit whose MRI shows the lesion, also the test along that lesion's outline,
:mod:`onfh_imaging.measure.radiograph_prior`, whose figures the finding column gives); ``I-II`` (the
radiographs did not tell) is not counted right for either.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from onfh_imaging.pipeline import measure_path
from onfh_imaging.verdict import with_verdicts

#: (case, built stage, collapse mm, lesion, joint space mm or None for the family's normal joint, lesion
#: shown on the radiographs)
CASES = (
    ("intact", "none", 0.0, "none", None, True),
    ("occult lesion", "I", 0.0, "large", None, False),
    ("lesion", "II", 0.0, "large", None, True),
    ("early collapse", "IIIA", 1.2, "large", None, True),
    ("late collapse", "IIIB", 3.0, "large", None, True),
    ("osteoarthritis", "IV", 3.0, "large", 1.6, True),
)
#: verdicts that are right for each built stage
RIGHT = {"none": {"none"}, "I": {"I"}, "II": {"II"}, "IIIA": {"IIIA"}, "IIIB": {"IIIB"}, "IV": {"IV"}}


def write_sdf(folder: Path, collapse: float, lesion: str, joint_space: float | None, shown: bool,
              seed: int) -> None:
    from onfh_imaging.phantom.radiograph import write_radiograph_study
    from onfh_imaging.phantom.study import HipSpec, PhantomSpec, write_phantom_study

    hip = HipSpec(collapse, lesion=lesion, joint_space_mm=joint_space, radiographic_lesion=shown)
    spec = PhantomSpec(hips="right", right=hip, stir=True, seed=seed)
    truth = write_phantom_study(folder, spec)
    write_radiograph_study(folder / "XR", spec, seed=seed, study_instance_uid=truth["study_instance_uid"])


def write_labelmap(folder: Path, collapse: float, lesion: str, joint_space: float | None, shown: bool,
                   seed: int) -> None:
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec, write_labelmap_study
    from onfh_imaging.phantom.labelmap.radiograph import RadiographSpec, write_labelmap_radiograph

    kw = {} if joint_space is None else {"joint_space_mm": joint_space}
    spec = LabelmapSpec(hips="right", right=HipDisease(collapse, lesion=lesion, radiographic_lesion=shown),
                        seed=seed, **kw)
    truth = write_labelmap_study(folder, spec)
    (folder / "XR").mkdir()
    for view in ("AP", "frog"):
        write_labelmap_radiograph(folder / "XR" / f"{view}.dcm", RadiographSpec(spec, view=view, seed=seed),
                                  study_instance_uid=truth["study_instance_uid"])


WRITERS = {"sdf": write_sdf, "labelmap": write_labelmap}


def run_case(family: str, case: tuple, root: Path, seed: int) -> dict:
    name, built, collapse, lesion, joint_space, shown = case
    folder = root / f"{family}_{name.replace(' ', '_')}"
    WRITERS[family](folder, collapse, lesion, joint_space, shown, seed)
    t0 = time.perf_counter()
    reports = with_verdicts(r.to_json() for r in measure_path(folder, on_refusal=lambda refusal: None))
    seconds = time.perf_counter() - t0
    verdicts = [v for v in (reports[0]["verdicts"] if reports else []) if v["side"] == "right"]
    verdict = verdicts[0] if verdicts else {}
    depth = verdict.get("depth") or {}
    alone = "; ".join(f"{s['series']}: {s['arco_2019'] or 'not staged'}" for s in verdict.get("series") or [])
    tests = _mri_margin_tests(reports)
    finding = "; ".join(f"{s['series']}: {_finding_word(s.get('radiographic_lesion'))}{tests.get(s['series'], '')}"
                        for s in verdict.get("series") or [] if s.get("radiograph"))
    stage = verdict.get("arco_2019")
    return {"family": family, "case": name, "built": built, "verdict": stage or "not staged",
            "right": stage in RIGHT[built], "false_iii": built in ("none", "I", "II") and str(stage).startswith("III"),
            "review": bool(verdict.get("needs_review")),
            "depth": f"{depth['depth_mm']:.2f} mm on {depth['series']}" if depth else "-",
            "true_depth_mm": collapse, "alone": alone, "seconds": seconds, "finding": finding or "-",
            "reasons": "; ".join(verdict.get("reasons") or [])}


def _mri_margin_tests(reports: list[dict]) -> dict[str, str]:
    """{radiograph label: the test along the MRI lesion's outline, in words} of the right hip."""
    from onfh_imaging.verdict import series_label

    out = {}
    for report in reports:
        for hip in report.get("hips") or []:
            test = (hip.get("radiographic_lesion") or {}).get("mri_margin") if hip.get("side") == "right" else None
            if test and test.get("tested"):
                out[series_label(report)] = (f" (at the MRI lesion's outline {test['contrast_sd']:+.2f} SD, "
                                             f"{test['z']:+.1f} null SD, limit {test['z_limit']:.2f})")
            elif test:
                out[series_label(report)] = f" (not tested at the MRI lesion's outline: {test['reason']})"
    return out


def _finding_word(found: bool | None) -> str:
    return {True: "found", False: "absent"}.get(found, "not read")


def table(rows: list[dict]) -> str:
    head = ("| family | case | built | verdict | right | needs review | depth used | true depth | radiographic "
            "lesion finding | each series alone |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    body = "".join(f"| {r['family']} | {r['case']} | {r['built']} | {r['verdict']} | {'yes' if r['right'] else 'NO'} | "
                   f"{'yes' if r['review'] else 'no'} | {r['depth']} | {r['true_depth_mm']:.1f} mm | {r['finding']} | "
                   f"{r['alone']} |\n" for r in rows)
    right = sum(r["right"] for r in rows)
    false_iii = sum(r["false_iii"] for r in rows)
    return head + body + f"\n{right}/{len(rows)} verdicts right; {false_iii} false stage III on a hip without collapse.\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(WRITERS), action="append", help="phantom family (both by default)")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (0)")
    parser.add_argument("--keep", metavar="DIR", help="write the studies here instead of a temporary folder")
    args = parser.parse_args(argv)
    families = args.family or sorted(WRITERS, reverse=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = []
        for family in families:
            for case in CASES:
                rows.append(run_case(family, case, root, args.seed))
                print(f"{family} {case[0]}: {rows[-1]['verdict']} ({rows[-1]['seconds']:.0f} s) {rows[-1]['reasons']}",
                      file=sys.stderr)
    text = table(rows)
    print(text)
    out = Path(__file__).parent / "results" / "verdict_phantoms.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("# Verdicts on phantom studies of known stage\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
