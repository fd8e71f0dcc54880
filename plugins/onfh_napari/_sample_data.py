"""Sample data: a phantom hip MRI study (both hips, coronal T1 and STIR) generated into a temporary folder."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ._reader import LayerData, read_study


def phantom_study() -> list[LayerData]:
    """Generate a two-hip phantom study and open it like a DICOM folder.

    The right hip has a large lesion with 2.5 mm of collapse (ARCO IIIB), the left a small lesion
    without collapse; ``truth.json`` in the folder holds the exact measures. The folder is removed
    when Python exits.
    """
    from onfh_imaging.phantom import HipSpec, PhantomSpec, write_phantom_study

    folder = Path(tempfile.mkdtemp(prefix="onfh-phantom-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    spec = PhantomSpec(
        hips="both",
        right=HipSpec(collapse_mm=2.5, lesion="large"),
        left=HipSpec(lesion="small"),
        n_slices=20,
        stir=True,
        patient_id="PHANTOM",
        patient_name="Phantom^Sample",
    )
    write_phantom_study(folder, spec)
    return read_study(folder)
