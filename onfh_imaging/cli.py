"""The ``onfh`` command: thin subcommands over the library's public functions.

Each subcommand is a pair: ``_add_<name>(subparsers)`` declares its arguments and
``_cmd_<name>(args)`` calls the library and prints. User errors (:class:`OnfhError`) print one
line on stderr and exit with status 2; stdout carries only the requested output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from onfh_imaging import __version__
from onfh_imaging.errors import OnfhError

EXIT_USER_ERROR = 2

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a subcommand's ``_add_<name>`` function."""
    _COMMANDS.append(add)
    return add


def build_parser() -> argparse.ArgumentParser:
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


# --- subcommands ------------------------------------------------------------------------------
# Each block below is owned by the module it calls; keep them a few lines each.


@command
def _add_measure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("measure", help="segment and measure the femoral heads of MR series and radiographs",
                       description="Measure every study under PATH (folders, DICOM files, zip archives): "
                                   "femoral head sphericity, collapse depth, necrotic lesion volume, ARCO stage.")
    p.add_argument("path", help="a DICOM file, a folder of studies, or a zip archive")
    p.add_argument("--json", action="store_true", help="print one JSON object per study (and nothing else)")
    p.add_argument("--series-uid", help="measure only the series with this SeriesInstanceUID")
    p.add_argument("--seg", metavar="OUT.dcm", help="also write the masks as a DICOM Segmentation")
    p.add_argument("--sr", metavar="OUT.dcm", help="also write the measures as a DICOM Structured Report")
    p.add_argument("--pseudonymize", metavar="KEY",
                   help="replace patient identifiers in every output with a keyed hash")
    p.set_defaults(func=_cmd_measure)


def _cmd_measure(args: argparse.Namespace) -> int:
    import json

    from onfh_imaging.pipeline import measure_path

    failures: list[str] = []

    def on_error(info, exc: Exception) -> None:
        failures.append(str(exc))
        print(f"onfh measure: {exc}", file=sys.stderr)

    results = measure_path(args.path, args.series_uid, on_error=on_error)
    if (args.seg or args.sr) and len(results) != 1:
        raise OnfhError(f"--seg/--sr need exactly one measured series, found {len(results)}",
                        path=args.path, hint="pick one with --series-uid")
    reports = [r.to_json() for r in results]
    if args.pseudonymize:
        from onfh_imaging.export.phi import Pseudonymizer

        pseudo = Pseudonymizer(args.pseudonymize)
        reports = [pseudo.pseudonymize_record(r) for r in reports]
    if args.seg or args.sr:
        from onfh_imaging.export import export_dicom

        export_dicom(results[0], seg_path=args.seg, sr_path=args.sr, pseudonymize_key=args.pseudonymize)
    if args.json:
        for report in reports:
            print(json.dumps(report))
    else:
        from onfh_imaging.textreport import print_study

        for report in reports:
            print_study(report)
    if not results:
        print("onfh measure: no measurable series found", file=sys.stderr)
        return EXIT_USER_ERROR
    return 1 if failures else 0


@command
def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="list the DICOM series under a folder or zip (headers only)")
    p.add_argument("path", help="folder, zip file or DICOM file")
    p.add_argument("--json", action="store_true", help="print a JSON list of series on stdout")
    p.set_defaults(func=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from onfh_imaging.io import scan
    from onfh_imaging.io.report import scan_summary, scan_table

    result = scan(args.path)
    if args.json:
        print(json.dumps([s.to_dict() for s in result.series], indent=1))
        print(scan_summary(result), file=sys.stderr)
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(scan_table(result))
        print(scan_summary(result))
    return 0


@command
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a DICOM series to NIfTI")
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
                                   "OUT/<patient>/<study date>_<series>/ (all of them unless some are "
                                   "chosen). "
                                   "Radiographs get the JSON only.")
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
    from onfh_imaging.pipeline import measure_path

    chosen = {"seg": args.seg, "sr": args.sr, "nifti": args.nifti}
    chosen = chosen if any(chosen.values()) else dict.fromkeys(chosen, True)
    failures: list[Exception] = []
    results = measure_path(args.study_path, args.series_uid,
                           on_error=lambda info, exc: (failures.append(exc),
                                                       print(f"onfh export: {exc}", file=sys.stderr)))
    for result in results:
        is_mr = result.series is not None
        files = export_study(result, args.out, pseudonymize_key=args.pseudonymize,
                             **{name: on and is_mr for name, on in chosen.items()})
        print("\n".join(str(p) for p in files.all()))
    if not results:
        print("onfh export: no measurable series found", file=sys.stderr)
        return EXIT_USER_ERROR
    return 1 if failures else 0
