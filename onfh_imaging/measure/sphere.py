"""Sphere fits to surface points: plain least squares and the robust reference-sphere fit.

The reference sphere of a femoral head is fitted to its *intact* articular surface. Collapse only
ever moves the surface inward, so the robust fit trims one-sidedly: points lying inside the current
sphere by more than a threshold scaled from the robust spread of the residuals are dropped, and the
fit is repeated until the set of inliers stops changing. The fitting itself lives in
:mod:`onfh_imaging.fitting`, shared with the segmentation.
"""

from __future__ import annotations

from onfh_imaging.errors import MeasurementError
from onfh_imaging.fitting import MAD_TO_SIGMA, Sphere, fit_sphere, robust_sphere

__all__ = ["MAD_TO_SIGMA", "Sphere", "fit_sphere", "fit_reference_sphere"]


def fit_reference_sphere(points_lps, weights=None, *, inward_threshold_sigma: float = 2.5,
                         min_threshold_mm: float = 0.15, max_iterations: int = 30) -> Sphere:
    """Sphere of the intact surface, ignoring inward (depressed) segments.

    Points lying inside the current sphere by more than
    ``max(inward_threshold_sigma * 1.4826 * MAD(residuals), min_threshold_mm)`` are trimmed and the
    fit is repeated on the remaining points until the inlier set no longer changes.

    Parameters
    ----------
    points_lps : array_like, shape (n, 3)
        Surface points, LPS mm (e.g. vertices of the articular surface).
    weights : array_like, shape (n,), optional
        Non-negative weights (area each point represents, mm^2).
    inward_threshold_sigma : float
        Trimming threshold in robust standard deviations of the radial residuals of the inliers.
    min_threshold_mm : float
        Lower bound of the threshold (mm), so that noise-free surfaces are not trimmed to nothing.
    max_iterations : int
        Upper bound on refits.

    Returns
    -------
    Sphere
        With ``inlier_fraction`` the share of points kept and ``rms_mm`` over the inliers.

    Raises
    ------
    MeasurementError
        Fewer than 4 usable points, or degenerate ones.
    """
    sphere = robust_sphere(points_lps, weights, inward_sigma=inward_threshold_sigma,
                           min_spread_mm=min_threshold_mm / inward_threshold_sigma,
                           max_iterations=max_iterations)
    if sphere.inliers is not None and sphere.inliers.sum() < 4:
        raise MeasurementError("too few surface points remain on the reference sphere")
    return sphere
