"""The ``onfh`` command: thin subcommands over the library's public functions.

Each subcommand is a pair: ``_add_<name>(subparsers)`` declares its arguments and
``_cmd_<name>(args)`` calls the library and prints. User errors (:class:`OnfhError`) print one
line on stderr and exit with status 2; a bug prints one line too and exits with status 3 (the traceback
only with ``ONFH_TRACEBACK=1``); stdout carries only the requested output.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from onfh_imaging import __version__
from onfh_imaging.errors import InputError, OnfhError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
TRACEBACK_ENV = "ONFH_TRACEBACK"

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a subcommand's ``_add_<name>`` function.

    Parameters
    ----------
    add : callable
        Function taking the parser's subparsers action and adding one subcommand to it.

    Returns
    -------
    callable
        ``add`` itself, so the function can be used as a decorator.
    """
    _COMMANDS.append(add)
    return add


def build_parser() -> argparse.ArgumentParser:
    """The ``onfh`` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="onfh",
        description="Measure osteonecrosis of the femoral head on hip MRI and radiographs.",
    )
    parser.add_argument("--version", action="version", version=f"onfh-imaging {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``onfh`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        Exit status: the subcommand's own (0 when it returns None), ``EXIT_USER_ERROR`` (2) on an
        :class:`~onfh_imaging.errors.OnfhError`, 130 on interruption, ``EXIT_INTERNAL_ERROR`` (3) on any
        other exception, which is re-raised instead when the ``ONFH_TRACEBACK`` variable is set. Each
        error is printed as one line on stderr.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OnfhError as exc:
        print(f"onfh {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"onfh {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line a user can report, the traceback only when asked for
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(f"onfh {args.command}: internal error {type(exc).__name__}: {exc} (please report it with this "
              f"line; {TRACEBACK_ENV}=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _measure_each_study(command_name: str, path: str, series_uid: str | None,
                        plans: tuple | None = None, head_seeds: dict | None = None,
                        pixel_mm: float | None = None) -> tuple[list, object]:
    """Measure every study under ``path``. Each refused file or series is reported on stderr as it is
    found, one line (where, reason, what to do), and the rest go on; returns the results and the
    :class:`~onfh_imaging.plan.RefusalReport`."""
    from onfh_imaging.pipeline import measure_path
    from onfh_imaging.plan import RefusalReport

    report = RefusalReport()

    def on_refusal(refusal) -> None:
        line = report.add(refusal)
        if line is not None:
            print(f"onfh {command_name}: {line}", file=sys.stderr)

    results = measure_path(path, series_uid, on_refusal=on_refusal, plans=plans, head_seeds=head_seeds,
                           pixel_mm=pixel_mm)
    for line in report.finish(measured=bool(results)):
        print(f"onfh {command_name}: {line}", file=sys.stderr)
    return results, report


def _exit_status(command_name: str, path: str, results: list, report) -> int:
    """Print the summary line of a measuring command and return its exit status: 0 when everything
    was measured (files beside it that are not DICOM images do not count), 1 when some was and some
    refused, 2 when nothing was measured."""
    failures = report.failures(measured=bool(results))
    if not results:
        what = f"{report.counts(failures)}, listed above" if failures else "no DICOM files found"
        print(f"onfh {command_name}: no measurable series found in {path} ({what})", file=sys.stderr)
        return EXIT_USER_ERROR
    if failures:
        print(f"onfh {command_name}: {len(results)} series measured; {report.counts(failures)}, listed above",
              file=sys.stderr)
        return 1
    return 0


def _one_series_to_export(path: str, series_uid: str | None) -> tuple:
    """The plan of ``path`` when it has exactly one series to measure (or none); else an error listing
    the candidates' keys and descriptions, before anything is measured."""
    from onfh_imaging.io.series import series_listing
    from onfh_imaging.pipeline import plan_with_refusals

    plans, refusals = plan_with_refusals(path, series_uid)
    if len(plans) > 1:
        listing = "; ".join(series_listing(primary) for primary, _ in plans)
        raise OnfhError(f"--seg/--sr write one series, and {len(plans)} would be measured: {listing}",
                        path=path, hint="choose one with --series-uid KEY")
    return plans, refusals


# --- subcommands ------------------------------------------------------------------------------
# Each block below is owned by the module it calls; keep them a few lines each.


@command
def _add_measure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("measure", help="segment and measure the femoral heads of MR series and radiographs",
                       description="Measure every study under PATH (folders, DICOM files, zip archives): "
                                   "femoral head sphericity, collapse depth, necrotic lesion volume, ARCO stage.")
    p.add_argument("path", help="a DICOM file, a folder of studies, or a zip archive")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per measured series, each with the ARCO verdicts of its visit "
                        "(and nothing else on stdout)")
    p.add_argument("--series-uid", help="measure only the series with this SeriesInstanceUID")
    p.add_argument("--seg", metavar="OUT.dcm", help="also write the masks as a DICOM Segmentation")
    p.add_argument("--sr", metavar="OUT.dcm", help="also write the measures as a DICOM Structured Report")
    p.add_argument("--pseudonymize", metavar="KEY",
                   help="replace patient identifiers in every output with a keyed hash")
    p.add_argument("--show-patient", action="store_true",
                   help="print the PatientID in the text output (default: a pseudonym for that output only)")
    p.add_argument("--head-seed", nargs="+", action="append", metavar="SIDE X Y Z",
                   help="place a femoral head by hand when the automatic search misses it: SIDE (left/right) "
                        "and its centre, X Y Z in LPS mm on MR or ROW COL (pixels) on a radiograph; repeat "
                        "for one side three or more times to give points on its outline instead")
    p.add_argument("--pixel-mm", type=float, metavar="MM",
                   help="pixel size at the patient (mm) of a PNG or JPEG picture; without it a picture is "
                        "measured in pixels")
    p.set_defaults(func=_cmd_measure)


def _head_seeds(values: Sequence[Sequence[str]] | None) -> dict[str, list[tuple[float, ...]]] | None:
    """``--head-seed`` values as the pipeline takes them: per side a point, or >= 3 outline points."""
    points: dict[str, list[tuple[float, ...]]] = {}
    for value in values or ():
        side, coords = value[0].lower(), value[1:]
        try:
            point = tuple(float(v) for v in coords)
        except ValueError:
            point = ()
        if side not in ("left", "right") or len(point) not in (2, 3):
            raise InputError(f"--head-seed {' '.join(value)}: expected SIDE X Y Z (LPS mm) or SIDE ROW COL",
                             hint="e.g. --head-seed right -92.5 12.0 -80.0")
        points.setdefault(side, []).append(point)
    for side, pts in points.items():
        if len(pts) == 2 or len({len(p) for p in pts}) > 1:
            raise InputError(f"--head-seed {side}: give one centre point or at least 3 outline points "
                             "of the same kind")
    return {side: pts[0] if len(pts) == 1 else pts for side, pts in points.items()} or None


def _cmd_measure(args: argparse.Namespace) -> int:
    import json

    plans = _one_series_to_export(args.path, args.series_uid) if (args.seg or args.sr) else None
    results, refused = _measure_each_study("measure", args.path, args.series_uid, plans,
                                           head_seeds=_head_seeds(args.head_seed), pixel_mm=args.pixel_mm)
    reports = [r.to_json() for r in results]
    if args.pseudonymize:
        from onfh_imaging.export.phi import Pseudonymizer

        pseudo = Pseudonymizer(args.pseudonymize)
        reports = [pseudo.pseudonymize_record(r) for r in reports]
    from onfh_imaging.verdict import with_verdicts

    reports = with_verdicts(reports)
    if (args.seg or args.sr) and results:
        from onfh_imaging.export import export_dicom

        export_dicom(results[0], seg_path=args.seg, sr_path=args.sr, pseudonymize_key=args.pseudonymize)
    if args.json:
        for report in reports:
            print(json.dumps(report))
    else:
        from onfh_imaging.textreport import print_reports

        print_reports(reports, show_patient=args.show_patient or bool(args.pseudonymize))
    return _exit_status("measure", args.path, results, refused)


@command
def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="list the DICOM series under a folder or zip (headers only)",
                       description="Read the headers only (no pixels) of every DICOM file under PATH and list "
                                   "its patients, studies and series: modality, description, orientation, "
                                   "slices, and the key that --series-uid takes. Files that are not images "
                                   "are counted, with the reason.")
    p.add_argument("path", help="folder, zip file or DICOM file")
    p.add_argument("--json", action="store_true", help="print a JSON list of series on stdout")
    p.add_argument("--show-names", action="store_true",
                   help="include patient names in the JSON (left out by default, like every log and message)")
    p.set_defaults(func=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from onfh_imaging.io import scan
    from onfh_imaging.io.report import scan_summary, scan_table

    result = scan(args.path)
    if args.json:
        series = [s.to_dict() for s in result.series]
        if not args.show_names:
            for s in series:
                del s["patient_name"]
        print(json.dumps(series, indent=1))
        print(scan_summary(result), file=sys.stderr)
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(scan_table(result))
        print(scan_summary(result))
    from onfh_imaging.plan import file_refusals, refusal_lines

    for line in refusal_lines(file_refusals(result)):  # why each skipped file is not an image series
        print(f"onfh scan: {line}", file=sys.stderr)
    return 0


@command
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a DICOM series to NIfTI",
                       description="Read one DICOM series (slices in any order, oblique or not) and write it as "
                                   "NIfTI with its geometry (the RAS affine of the LPS origin, spacing and "
                                   "direction). A folder with several series needs --series-uid.")
    p.add_argument("series_path", help="folder, zip or files of the series")
    p.add_argument("output", help="output .nii or .nii.gz")
    p.add_argument("--series-uid", default=None, help="SeriesInstanceUID (or sub-series key) to convert")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from onfh_imaging.io import read_series, write_nifti

    series = read_series(args.series_path, args.series_uid)
    for warning in series.warnings:
        print(f"onfh convert: warning: {warning}", file=sys.stderr)
    write_nifti(series.volume, args.output)
    print(f"{args.output}: {series.info.series_description!r}, {series.volume.size} voxels, "
          f"spacing {tuple(round(s, 4) for s in series.volume.spacing)} mm")
    return 0


@command
def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="measure a study and write DICOM SEG/SR, NIfTI masks and JSON",
                       description="Measure every study under STUDY_PATH and write its standard outputs into "
                                   "OUT/<patient>/<study date>_<modality>_<series description>/ (all of "
                                   "them unless some are chosen). Radiographs get the JSON only.")
    p.add_argument("study_path", help="a DICOM file, a folder of studies, or a zip archive")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--series-uid", help="export only the series with this SeriesInstanceUID")
    p.add_argument("--seg", action="store_true", help="write the masks as a DICOM Segmentation")
    p.add_argument("--sr", action="store_true",
                   help="write the measures as a DICOM Structured Report (TID 1500)")
    p.add_argument("--nifti", action="store_true", help="write the image and per-hip label maps as NIfTI")
    p.add_argument("--pseudonymize", metavar="KEY",
                   help="replace patient identifiers everywhere with a keyed hash")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from onfh_imaging.export import export_study

    chosen = {"seg": args.seg, "sr": args.sr, "nifti": args.nifti}
    chosen = chosen if any(chosen.values()) else dict.fromkeys(chosen, True)
    results, refused = _measure_each_study("export", args.study_path, args.series_uid)
    from onfh_imaging.verdict import with_verdicts

    reports = with_verdicts(r.to_json() for r in results)
    for result, report in zip(results, reports):
        is_mr = result.series is not None
        files = export_study(result, args.out, pseudonymize_key=args.pseudonymize, verdicts=report["verdicts"],
                             **{name: on and is_mr for name, on in chosen.items()})
        print("\n".join(str(p) for p in files.all()))
    return _exit_status("export", args.study_path, results, refused)


@command
def _add_phantom(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phantom", help="write a digital hip phantom study (DICOM MR + truth.json)",
                       description="Render a coronal MR study of one or both hips with known truth: "
                                   "OUT_DIR/T1_COR, OUT_DIR/STIR_COR (--stir), OUT_DIR/truth.json, and AP and "
                                   "frog-leg radiographs of the same hips in OUT_DIR/XR (--radiographs).")
    p.add_argument("out_dir", help="new or empty output folder")
    p.add_argument("--family", choices=["sdf", "labelmap"], default="sdf",
                   help="phantom family: sdf (the signed-distance model, default) or labelmap (the second, "
                        "independent family: label-map anatomy with fovea, labrum, red marrow, oedema, a "
                        "Gaussian slice profile and a coil-array bias; always writes STIR too)")
    p.add_argument("--hips", choices=["both", "left", "right"], default="both",
                   help="which hips the study images: both (a pelvis field of view) or one (both)")
    p.add_argument("--radius", type=float, default=24.0, metavar="MM", help="femoral head radius (24)")
    p.add_argument("--collapse", type=float, default=0.0, metavar="MM", help="collapse depth (0)")
    p.add_argument("--collapse-direction", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="LPS direction of the collapse for the right hip, mirrored for the left "
                        "(default: the antero-superior dome)")
    p.add_argument("--lesion", choices=["none", "small", "large", "irregular"], default="none",
                   help="lesion preset (irregular: labelmap only)")
    p.add_argument("--lesion-core", choices=["fatty", "fluid", "mixed"], default="fatty",
                   help="signal of the necrotic core (mixed: labelmap only)")
    p.add_argument("--occult-lesion", action="store_true",
                   help="the lesion shows on MRI only (ARCO I): on the radiographs its band and core attenuate "
                        "as normal marrow, an early lesion without mineral change (default: its dense margin "
                        "and core show, ARCO II)")
    p.add_argument("--joint-space", type=float, metavar="MM",
                   help="joint space width between head and acetabular bone (sdf 4.1, labelmap 3.0); "
                        "2 mm or less is the narrowing of osteoarthritis (ARCO IV)")
    p.add_argument("--slice", type=float, default=4.0, metavar="MM", help="slice thickness (4)")
    p.add_argument("--pixel", type=float, metavar="MM", help="pixel size (0.7 one hip, 1.4 both)")
    p.add_argument("--matrix", type=int, default=256, metavar="N", help="in-plane matrix N x N (256)")
    p.add_argument("--slices", type=int, default=24, metavar="N", help="number of slices (24)")
    p.add_argument("--oblique", type=float, default=0.0, metavar="DEG",
                   help="coronal-oblique rotation about the superior axis")
    p.add_argument("--noise", type=float, default=0.03, metavar="F", help="noise sigma / marrow signal")
    p.add_argument("--bias", type=float, default=0.15, metavar="F", help="bias field strength")
    p.add_argument("--stir", action="store_true", help="also write a coronal STIR series")
    p.add_argument("--radiographs", action="store_true",
                   help="also write AP and frog-leg lateral radiographs of the same model (OUT_DIR/XR)")
    p.add_argument("--ball", action="store_true", help="put a 25 mm calibration ball in the radiographs")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the noise (and, for labelmap, of the drawn anatomy); same seed, same files (0)")
    p.add_argument("--patient-id", metavar="ID", help="PatientID of the study (default PHANTOM / LABELMAP)")
    p.add_argument("--study-date", metavar="DATE", help="StudyDate, YYYY-MM-DD or YYYYMMDD (default 2026-01-01): "
                   "phantoms of one patient on several dates make a trial cohort")
    p.set_defaults(func=_cmd_phantom)


def _study_identity(args: argparse.Namespace) -> dict[str, str]:
    """``patient_id`` / ``study_date`` (DICOM YYYYMMDD) given on the command line, for a phantom spec."""
    import datetime as dt

    out = {}
    if args.patient_id is not None:
        if not args.patient_id.strip() or len(args.patient_id) > 64:
            raise InputError("--patient-id must be 1 to 64 characters (DICOM LO)")
        out["patient_id"] = args.patient_id
    if args.study_date is not None:
        text = args.study_date.replace("-", "")
        try:
            out["study_date"] = dt.datetime.strptime(text, "%Y%m%d").strftime("%Y%m%d")
        except ValueError:
            raise InputError(f"--study-date {args.study_date!r} is not a date",
                             hint="give YYYY-MM-DD, e.g. --study-date 2024-03-01") from None
    return out


def _cmd_phantom(args: argparse.Namespace) -> int:
    from onfh_imaging.phantom import HipSpec, PhantomSpec, truth_summary, write_phantom_study

    if args.family == "labelmap":
        return _cmd_phantom_labelmap(args)
    if args.lesion == "irregular" or args.lesion_core == "mixed":
        raise InputError("--lesion irregular and --lesion-core mixed need --family labelmap")
    d = args.collapse_direction
    disease = {"lesion": args.lesion, "lesion_core": args.lesion_core, "joint_space_mm": args.joint_space,
               "radiographic_lesion": not args.occult_lesion}
    right = HipSpec(args.collapse, None if d is None else tuple(d), **disease)
    left = HipSpec(args.collapse, None if d is None else (-d[0], d[1], d[2]), **disease)
    spec = PhantomSpec(hips=args.hips, right=right, left=left, head_radius_mm=args.radius,
                       in_plane_mm=args.pixel, slice_mm=args.slice, matrix=(args.matrix, args.matrix),
                       n_slices=args.slices,
                       oblique_deg=(args.oblique, 0.0), noise_sigma=args.noise, bias_strength=args.bias,
                       stir=args.stir, seed=args.seed, **_study_identity(args))
    truth = write_phantom_study(args.out_dir, spec)
    print(f"{args.out_dir}: " + ", ".join(f"{s['folder']} {s['shape'][0]} slices" for s in truth["series"]))
    if args.radiographs:
        from pathlib import Path

        from onfh_imaging.phantom.radiograph import write_radiograph_study

        xr = write_radiograph_study(Path(args.out_dir) / "XR", spec, seed=args.seed,
                                    study_instance_uid=truth["study_instance_uid"],
                                    calibration_ball_mm=25.0 if args.ball else None)
        print(f"{args.out_dir}/XR: {len(xr['files'])} radiographs, truth in XR/radiograph_truth.json")
    print("\n".join(truth_summary(truth)))
    return 0


def _cmd_phantom_labelmap(args: argparse.Namespace) -> int:
    from onfh_imaging.phantom import truth_summary
    from onfh_imaging.phantom.labelmap import HipDisease, LabelmapSpec, write_labelmap_study

    if args.collapse_direction is not None or args.ball:
        raise InputError("--collapse-direction and --ball are not options of --family labelmap")
    disease = HipDisease(args.collapse, lesion=args.lesion, core=args.lesion_core,
                         radiographic_lesion=not args.occult_lesion)
    pixel = args.pixel or (1.4 if args.hips == "both" else 0.7)
    spec = LabelmapSpec(hips=args.hips, right=disease, left=disease, head_radius_mm=args.radius,
                        in_plane_mm=pixel, slice_mm=args.slice, matrix=(args.matrix, args.matrix),
                        n_slices=args.slices, oblique_deg=(args.oblique, 0.0), snr=1.0 / max(args.noise, 1e-3),
                        bias_strength=args.bias, seed=args.seed, **_study_identity(args),
                        **({} if args.joint_space is None else {"joint_space_mm": args.joint_space}))
    truth = write_labelmap_study(args.out_dir, spec)
    print(f"{args.out_dir}: " + ", ".join(f"{s['folder']} {s['shape'][0]} slices" for s in truth["series"]))
    if args.radiographs:
        from pathlib import Path

        from onfh_imaging.phantom.labelmap.radiograph import write_labelmap_radiograph_study

        xr = write_labelmap_radiograph_study(Path(args.out_dir) / "XR", spec,
                                             study_instance_uid=truth["study_instance_uid"])
        print(f"{args.out_dir}/XR: {len(xr['files'])} radiographs, truth in XR/radiograph_truth.json")
    print("\n".join(truth_summary(truth)))
    return 0


@command
def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="measure a whole cohort, resumably, on local processes or Dask",
                       description="Measure every study under ROOT into OUT: one record per series in "
                                   "OUT/records, tables OUT/measurements.csv|.parquet and OUT/errors.csv. "
                                   "A rerun measures only what is missing or changed.")
    p.add_argument("root", nargs="*", help="folders, files or zip archives of the cohort")
    p.add_argument("--out", required=True, help="output folder")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask scheduler (tcp://host:8786)")
    where.add_argument("--workers", type=int, metavar="N", help="start a Dask LocalCluster of N workers")
    where.add_argument("--processes", type=int, metavar="N", help="local worker processes (default: all cores)")
    p.add_argument("--retry-failed", action="store_true", help="measure again series that failed before")
    p.add_argument("--reads-db", metavar="FILE", help="reader confirmations to join (default: the viewer's)")
    p.add_argument("--tables-only", action="store_true", help="only rebuild the tables of OUT from its records")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    from onfh_imaging.batch.run import rebuild_tables, run_batch

    if args.tables_only:
        print("\n".join(str(p) for p in rebuild_tables(args.out, reads_db=args.reads_db).values()))
        return 0
    if not args.root:
        raise OnfhError("give the cohort folder(s) to measure, or --tables-only")
    summary = run_batch(args.root, args.out, scheduler=args.scheduler, workers=args.workers,
                        processes=args.processes, progress=not args.no_progress, retry_failed=args.retry_failed,
                        reads_db=args.reads_db)
    print("\n".join(summary.lines()))
    return 1 if summary.failed or summary.failed_earlier else 0


@command
def _add_longitudinal(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("longitudinal", help="trajectories, events, trial endpoints and survival of a cohort",
                       description="Read the results of `onfh batch` and write per-hip trajectories, events, "
                                   "endpoints at a visit (per protocol and intention to treat, Wilson CIs), "
                                   "Kaplan-Meier survival to THR and collapse, figures and index.html.")
    p.add_argument("results", help="output folder of `onfh batch`")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--visit", type=float, default=12, metavar="MONTHS", help="endpoint visit (12)")
    p.add_argument("--window", type=float, metavar="MONTHS", help="visit window half-width (visit/4, >= 1)")
    p.add_argument("--clinical", metavar="CSV",
                   help="clinical table: patient_id, side, thr_date and/or withdrawal_date (YYYY-MM-DD), "
                        "optional withdrawal_reason, last_followup_date")
    p.add_argument("--regeneration-threshold", type=float, default=0.25, metavar="F",
                   help="lesion volume decrease from baseline that counts as regeneration (0.25)")
    p.add_argument("--endpoint", action="append", default=[], metavar="NAME=EXPR",
                   help="a composite endpoint, e.g. 'free = no_thr & no_stage_progression' (&, |, ~, "
                        "parentheses over sphericity_maintained, no_stage_progression, no_thr, success, "
                        "regeneration); repeat for more. The primary endpoint (sphericity_maintained & "
                        "regeneration) is always reported")
    p.add_argument("--endpoints", metavar="FILE", help="composite endpoints, one NAME = EXPR a line (# comments)")
    p.add_argument("--processes", type=int, metavar="N",
                   help="processes drawing the per-hip figures (default: as many as pay for the cohort)")
    p.set_defaults(func=_cmd_longitudinal)


def _cmd_longitudinal(args: argparse.Namespace) -> int:
    from onfh_imaging.batch.endpoints import load_endpoint_file, parse_endpoint
    from onfh_imaging.batch.report import longitudinal_report

    composites = (load_endpoint_file(args.endpoints) if args.endpoints else []) + [
        parse_endpoint(text) for text in args.endpoint
    ]
    report = longitudinal_report(args.results, args.out, visit_months=args.visit, window_months=args.window,
                                 clinical=args.clinical, regeneration_threshold=args.regeneration_threshold,
                                 endpoints=composites, processes=args.processes)
    if report.warnings:  # they name patients: the page has them, the console only their count
        print(f"onfh longitudinal: {len(report.warnings)} warning(s) about the cohort's study dates, listed in "
              f"{report.out / 'index.html'}", file=sys.stderr)
    print(f"{report.n_patients} patients, {report.n_hips} hips, {report.n_visits} hip visits")
    print(report.endpoints.to_string(index=False, float_format="{:.3f}".format))
    print(report.out / "index.html")
    return 0
