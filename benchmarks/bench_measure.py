"""Benchmark of measurement from masks, against pyradiomics' shape features.

Run: ``.venv/bin/python benchmarks/bench_measure.py``. Prints

* the time of :func:`onfh_imaging.measure.measure_hip` (masks -> numbers) on a 256 x 256 x 24,
  0.7 x 0.7 x 4 mm coronal-oblique head + lesion mask, and of pyradiomics' shape features on the same
  head mask;
* the sphericity of a voxelised 24 mm-radius sphere at 0.5 mm isotropic and at 0.7 x 0.7 x 3.5 mm,
  from this package and from pyradiomics (whose mesh follows the voxel staircase);
* collapse depth and radius of digital-phantom femoral heads (intact and 1-4 mm collapse) measured
  from their partial-volume fractions on thick, oblique coronal grids (3-5 mm slices). The fractions
  are sampled every 0.25 mm through the slice: coarser through-slice sampling quantises a surface
  parallel to the slices and is itself the error being measured.
"""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np

from onfh_imaging.measure import head_surface_mesh, measure_hip, sphericity
from onfh_imaging.measure.analytic import (
    femoral_head_sdf,
    grid_around,
    oblique_direction,
    sphere_sdf,
    spherical_cap_sdf,
    voxelise,
)

CORONAL = np.column_stack([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
CENTER = np.array([-92.0, 18.0, -110.0])
RADIUS_MM = 24.0


def _timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _pyradiomics_shape(mask):
    try:
        from radiomics import shape
    except ImportError:
        return None
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    binary = mask.with_array((np.asarray(mask.array) >= 0.5).astype(np.uint8))
    image = binary.to_sitk()

    def run():
        features = shape.RadiomicsShape(image, image, label=1)
        features.enableAllFeatures()
        return features.execute()

    return run


def main() -> None:
    grid = grid_around(CENTER + [3.0, -2.0, 5.0], (24, 256, 256), (0.7, 0.7, 4.0),
                      oblique_direction((6, 4, -8)) @ CORONAL)
    head_sdf = femoral_head_sdf(CENTER, RADIUS_MM, collapse_depth_mm=2.5,
                                collapse_direction_lps=(0.1, 0.0, 1.0),
                                neck_axis_lps=(-0.6, 0.0, -0.8), neck_radius_mm=14.5, neck_cut_angle_deg=60.0)
    cap = spherical_cap_sdf(CENTER, RADIUS_MM, (0.0, 0.0, 1.0), 50.0)
    head = voxelise(grid, head_sdf)
    lesion = voxelise(grid, lambda p: np.maximum(cap(p), head_sdf(p)))

    hip = measure_hip(head, lesion, side="left")
    t_ours = _timed(lambda: measure_hip(head, lesion, side="left"))
    pyrad = _pyradiomics_shape(head)
    t_pyrad = _timed(pyrad) if pyrad else None
    print("measure_hip, 256x256x24 @ 0.7x0.7x4 mm, head + lesion")
    print(f"  onfh-imaging measure_hip (all measures) : {t_ours * 1000:7.1f} ms")
    print("  pyradiomics shape features (head only)  : "
          + (f"{t_pyrad * 1000:7.1f} ms" if t_pyrad is not None else "not installed"))
    d = hip.to_dict()["head"]
    print(f"  collapse {d['collapse_depth_mm']} mm (truth 2.5), radius {d['radius_mm']} mm (truth 24), "
          f"kerboul {hip.kerboul_angle_deg:.0f} deg")

    print()
    print(f"sphericity of a voxelised {RADIUS_MM:g} mm-radius sphere (truth 1)")
    print(f"  {'grid':<26}{'mask':<11}{'onfh-imaging':>13}{'pyradiomics':>13}")
    grids = {
        "0.5 mm isotropic": dict(shape_kji=(112, 112, 112), spacing=(0.5, 0.5, 0.5)),
        "0.7x0.7x3.5 mm": dict(shape_kji=(20, 86, 86), spacing=(0.7, 0.7, 3.5), direction=CORONAL),
    }
    for name, spec in grids.items():
        g = grid_around(CENTER + [0.31, -0.17, 0.6], **spec)
        for binary in (True, False):
            mask = voxelise(g, sphere_sdf(CENTER, RADIUS_MM), binary=binary)
            ours = sphericity(head_surface_mesh(mask))
            run = _pyradiomics_shape(mask)
            theirs = f"{run()['Sphericity']:.3f}" if run else "n/a"
            print(f"  {name:<26}{'binary' if binary else 'fractions':<11}{ours:>13.3f}{theirs:>13}")

    print()
    phantom_collapse_floor()


def phantom_collapse_floor() -> None:
    """Collapse and radius errors on phantom truth fractions over thick oblique grids."""
    from onfh_imaging.phantom import voxelised_femoral_head

    print("phantom femoral heads from partial-volume fractions (R 24 mm, collapse in the dome)")
    print(f"  {'grid':<28}{'true mm':>8}{'read mm':>9}{'error':>8}{'radius err':>12}")
    worst = {"intact": 0.0, "collapse": 0.0, "radius": 0.0}
    for in_plane, slice_mm, oblique in ((0.5, 3.0, (10.0, 0.0)), (0.7, 4.0, (15.0, 8.0)), (0.9, 5.0, (0.0, 0.0))):
        for depth in (0.0, 1.0, 2.0, 3.0, 4.0):
            hip, mask = voxelised_femoral_head(depth, in_plane_mm=in_plane, slice_mm=slice_mm,
                                               oblique_deg=oblique, head_radius_mm=RADIUS_MM)
            m = measure_hip(mask, None, side="right", neck_axis_lps=hip.neck_axis)
            err = m.collapse.depth_mm - depth
            rad = m.sphere.radius_mm - RADIUS_MM
            worst["intact" if depth == 0 else "collapse"] = max(worst["intact" if depth == 0 else "collapse"],
                                                                abs(err))
            worst["radius"] = max(worst["radius"], abs(rad))
            name = f"{in_plane}x{in_plane}x{slice_mm} obl {oblique[0]:g}/{oblique[1]:g}"
            print(f"  {name:<28}{depth:>8.1f}{m.collapse.depth_mm:>9.2f}{err:>+8.2f}{rad:>+12.3f}")
    print(f"  worst: intact reads {worst['intact']:.2f} mm, collapse error {worst['collapse']:.2f} mm, "
          f"radius error {worst['radius']:.3f} mm")


if __name__ == "__main__":
    main()
