"""Radiographs of the label-map anatomy: divergent-beam projections with exact head truth.

A point source lies anterior to the patient on the head's central ray; the detector is a plane
perpendicular to it, ``source_to_detector_mm`` from the source, so the head centre is magnified by
``M = SDD / SOD``. The projection is the sum, over coronal planes 0.5 mm apart, of each plane's
attenuation resampled to the detector (the rays through a plane meet it on a scaled copy of the
detector grid), times the path length per plane. Attenuation comes from

* an attenuation volume of the hip (bone, joint, pelvis, lesion, optional prosthesis) on a 0.5 mm
  grid, stored as the excess over the body tissue it replaces;
* the body (elliptic cylinders of muscle under fat), integrated exactly along each ray;

then scatter (a broad blur of the primary), quantum noise and an exposure-dependent display window.
The frog-leg lateral turns the femur about the head centre (abduction and external rotation) while the
pelvis stays. Every view records in its truth the projected head centre (row, column) and radius in
pixels and mm, the silhouette collapse depth and the magnification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import affine_transform, gaussian_filter

from onfh_imaging.phantom.labelmap.anatomy import (
    ANTERIOR,
    SUPERIOR,
    TISSUES,
    HipAnatomy,
    PelvisAnatomy,
    capsule_sdf,
    dot,
)

if TYPE_CHECKING:
    from onfh_imaging.phantom.labelmap.study import LabelmapSpec

#: linear attenuation (1/mm) of each tissue near 60 keV effective energy: water 0.0206, fat 0.018,
#: cortical bone 0.060 (0.315 cm2/g x 1.92 g/cm3); cancellous bone is marrow with about a quarter of its
#: volume mineralised trabeculae (0.029-0.031); a sclerotic band denser, a resorbed (fluid) core lucent
MU_PER_MM: dict[str, float] = {
    "air": 0.0, "fat": 0.0180, "muscle": 0.0210, "femoral_cortex": 0.0580, "yellow_marrow": 0.0300,
    "red_marrow": 0.0310, "oedema": 0.0300, "femoral_cartilage": 0.0215, "joint_fluid": 0.0206,
    "acetabular_cartilage": 0.0215, "labrum": 0.0215, "pelvic_cortex": 0.0560, "pelvic_marrow": 0.0300,
    "lesion_fatty": 0.0290, "lesion_fluid": 0.0235, "lesion_band": 0.0400, "ligamentum_teres": 0.0212,
    "pulvinar_fat": 0.0185,
}
#: relative standard deviation of cancellous bone's attenuation (trabecular texture), and the texture's
#: correlation length (mm): trabeculae and marrow spaces of about a millimetre
TEXTURE_SD = 0.12
TEXTURE_MM = 0.8
#: cobalt-chrome ball and cup, titanium stem (1/mm): far above cortical bone
MU_METAL_PER_MM = {"cocr": 0.90, "titanium": 0.30}
#: voxel size (mm) of the attenuation volume (the projection sums planes this far apart)
VOLUME_STEP_MM = 0.5
#: the attenuation volume reaches this far (mm) anterior and posterior of the head centre
DEPTH_REACH_MM = 60.0
#: the weight-bearing dome of the outline: within this angle (degrees) of superior; the fovea
#: (medial-inferior) and the neck lie outside it
DOME_SECTOR_DEG = 75.0
#: bisection tolerance (mm) of the silhouette radius
SILHOUETTE_TOL_MM = 0.002

FEMUR_TISSUES = ("femoral_cortex", "yellow_marrow", "red_marrow", "oedema", "lesion_fatty", "lesion_fluid",
                 "lesion_band")


@dataclass(frozen=True)
class Beam:
    """Projection geometry of one view: source on the head's central ray, anterior to the patient.

    Attributes
    ----------
    head_center : ndarray, shape (3,)
        Head centre, LPS mm; the central ray passes through it.
    magnification : float
        Magnification of the head centre's plane, source-to-detector over source-to-head distance.
    source_to_detector_mm : float
        Source-to-detector distance, mm.
    detector_pixel_mm : float
        Detector pixel pitch, mm.
    shape : (int, int)
        Detector size (rows, columns), pixels.
    offset_mm : (float, float)
        Shift of the image window on the detector toward the patient's left and superior, mm on the
        detector.
    """

    head_center: np.ndarray
    magnification: float
    source_to_detector_mm: float
    detector_pixel_mm: float
    shape: tuple[int, int]
    offset_mm: tuple[float, float] = (0.0, 0.0)

    @property
    def source(self) -> np.ndarray:
        """Source position, LPS mm, shape (3,)."""
        return self.head_center + (self.source_to_detector_mm / self.magnification) * ANTERIOR

    @property
    def detector_y(self) -> float:
        """Detector plane's y coordinate (LPS, posterior), mm."""
        return float(self.source[1] + self.source_to_detector_mm)

    @property
    def centre_px(self) -> tuple[float, float]:
        """The detector's centre (row, column), pixels."""
        return ((self.shape[0] - 1) / 2.0, (self.shape[1] - 1) / 2.0)

    def detector_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Detector x (patient's left, along columns) and z (superior, against rows) of each pixel.

        Returns
        -------
        cols : ndarray, shape (columns,)
            x of each column, mm.
        rows : ndarray, shape (rows,)
            z of each row, mm.
        """
        r0, c0 = self.centre_px
        cols = (np.arange(self.shape[1]) - c0) * self.detector_pixel_mm + self.head_center[0] + self.offset_mm[0]
        rows = self.head_center[2] + self.offset_mm[1] - (np.arange(self.shape[0]) - r0) * self.detector_pixel_mm
        return cols, rows


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.radians(deg)
    k = axis / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def frog_rotation(hip: HipAnatomy, abduction_deg: float, external_rotation_deg: float) -> np.ndarray:
    """Rotation of the femur about its head centre for the frog-leg position: external rotation about
    the shaft's long axis, then abduction about the antero-posterior axis (the knee moves laterally).

    Parameters
    ----------
    hip : HipAnatomy
        The hip (its side and shaft axis).
    abduction_deg, external_rotation_deg : float
        The pose, degrees.

    Returns
    -------
    ndarray, shape (3, 3)
        Rotation matrix acting on LPS vectors from the head centre.
    """
    ext = _rotation(-np.asarray(hip.shaft_axis), external_rotation_deg * (1 if hip.side == "left" else -1))
    abd = _rotation(ANTERIOR, abduction_deg * (1 if hip.side == "left" else -1))
    return abd @ ext


def _femur_labels(hip: HipAnatomy, p: np.ndarray) -> np.ndarray:
    """Femur tissues only (0 elsewhere): marrow, red marrow, oedema, lesion, cortex."""
    label = np.zeros(len(p), np.uint8)
    hip.label_femur_into(p, label)
    return label


def _prosthesis_mu(hip: HipAnatomy, p: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Metal attenuation of a total hip replacement (1/mm, partial-volume smoothed) and the native bone
    it replaces (True where the head and proximal neck were resected)."""
    c, R = hip.c, hip.radius_mm
    q = p - c
    r = np.sqrt(np.einsum("ij,ij->i", q, q))
    ball_r = 0.7 * R
    frac = lambda sdf: np.clip(0.5 - sdf / step, 0.0, 1.0)
    mu = MU_METAL_PER_MM["cocr"] * frac(r - ball_r)
    cup = dot(q, hip.acetabular_pole) > -0.05 * R  # a hemispherical shell, 3.6 mm thick, facing the pole
    mu += np.where(cup, MU_METAL_PER_MM["cocr"] * frac(np.abs(r - (R + 1.0)) - 1.8), 0.0)
    neck_end = c + 0.8 * hip.neck_length_mm * np.asarray(hip.neck_axis)
    tip = hip.neck_base + 120.0 * np.asarray(hip.shaft_axis)
    stem = np.minimum(capsule_sdf(p, c + 0.5 * ball_r * np.asarray(hip.neck_axis), neck_end, 6.5),
                      capsule_sdf(p, neck_end, tip, 5.5))
    mu += MU_METAL_PER_MM["titanium"] * frac(stem) * (r > ball_r)
    resected = (r < R + 0.5) | (dot(q, np.asarray(hip.neck_axis)) < 0.45 * hip.neck_length_mm) & (r < R + 12.0)
    return mu, resected


def attenuation_volume(anatomy: PelvisAnatomy, hip: HipAnatomy, beam: Beam, *, frog: np.ndarray | None = None,
                       prosthesis: bool = False, step_mm: float = VOLUME_STEP_MM,
                       texture_seed: int | None = None, lesion_visible: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The hip's attenuation in excess of the body tissue it replaces (1/mm) on a regular grid.

    Parameters
    ----------
    anatomy : PelvisAnatomy
        The label map.
    hip : HipAnatomy
        The hip radiographed (its centre centres the grid; its femur moves in the frog-leg view).
    beam : Beam
        The view; the grid covers its field of view at the depths of the hip.
    frog : ndarray, shape (3, 3), optional
        Rotation of the femur about the head centre (:func:`frog_rotation`); None for the AP pose.
    prosthesis : bool
        Replace the head and proximal neck by a metal total hip replacement.
    step_mm : float
        Grid spacing, mm.
    texture_seed : int, optional
        Seed of the trabecular texture over cancellous bone; None for none.
    lesion_visible : bool
        False renders the necrotic lesion radiographically occult (an early lesion without mineral
        change): its band and core attenuate, with texture, as the yellow marrow they replace.

    Returns
    -------
    mu : ndarray, shape (ny, nz, nx)
        Excess attenuation; plane ``mu[k]`` lies at ``y[k]``, its rows at ``z``, columns at ``x``.
    x, y, z : ndarray
        Grid coordinates (mm, LPS) along each axis.
    """
    c = hip.c
    sod = beam.source_to_detector_mm / beam.magnification
    half_w = 0.5 * beam.shape[1] * beam.detector_pixel_mm / beam.magnification * (sod + DEPTH_REACH_MM) / sod + 2
    half_h = 0.5 * beam.shape[0] * beam.detector_pixel_mm / beam.magnification * (sod + DEPTH_REACH_MM) / sod + 2
    s = step_mm
    x = np.arange(c[0] - half_w, c[0] + half_w + s, s)
    y = np.arange(c[1] - DEPTH_REACH_MM, c[1] + DEPTH_REACH_MM + s, s)
    z = np.arange(c[2] - half_h, c[2] + half_h + s, s)
    lut = np.zeros(max(TISSUES.values()) + 1)
    for name, v in MU_PER_MM.items():
        lut[TISSUES[name]] = v
    lesion_tissues = ("lesion_fatty", "lesion_fluid", "lesion_band")
    if not lesion_visible:
        lut[[TISSUES[t] for t in lesion_tissues]] = lut[TISSUES["yellow_marrow"]]
    femur_ids = np.array([TISSUES[t] for t in FEMUR_TISSUES])
    mu = np.empty((len(y), len(z), len(x)), np.float32)
    bone = np.zeros(mu.shape, bool)
    cancellous = np.array([TISSUES[t] for t in ("yellow_marrow", "red_marrow", "oedema", "pelvic_marrow",
                                                "lesion_fatty") + (() if lesion_visible else lesion_tissues)])
    Z, X = np.meshgrid(z, x, indexing="ij")
    for k, yk in enumerate(y):
        p = np.column_stack([X.ravel(), np.full(X.size, yk), Z.ravel()])
        label = anatomy.labels(p)
        body = anatomy.body.label(p)
        metal = 0.0
        if frog is not None:  # the femur moves within the soft tissue: where it was becomes muscle
            label[np.isin(label, femur_ids)] = TISSUES["muscle"]
            moved = _femur_labels(hip, c + np.einsum("ij,kj->ki", frog.T, p - c))  # R^T (p - c)
            label = np.where(moved > 0, moved, label)
        if prosthesis:
            metal, resected = _prosthesis_mu(hip, p, s)
            label[resected & np.isin(label, femur_ids)] = TISSUES["muscle"]
        mu[k] = (lut[label] - lut[body] + metal).reshape(Z.shape)
        bone[k] = np.isin(label, cancellous).reshape(Z.shape)
    if texture_seed is not None:  # trabecular texture: a smooth random field over cancellous bone
        field = gaussian_filter(np.random.default_rng(texture_seed).standard_normal(mu.shape).astype(np.float32),
                                TEXTURE_MM / s)
        field *= TEXTURE_SD / max(float(field.std()), 1e-12)
        mu += np.where(bone, field * lut[TISSUES["yellow_marrow"]], 0.0).astype(np.float32)
    return mu, x, y, z


def _body_paths(anatomy: PelvisAnatomy, beam: Beam) -> np.ndarray:
    """Attenuation line integral (unitless) of the body cylinders (fat over muscle) along every ray."""
    body = anatomy.body
    S = beam.source
    cols, rows = beam.detector_points()
    Qx, Qz = np.meshgrid(cols, rows)
    d = np.stack([Qx - S[0], np.full(Qx.shape, beam.source_to_detector_mm), Qz - S[2]], axis=-1)
    length = np.linalg.norm(d, axis=-1)

    def chord(ax: float, ay: float) -> np.ndarray:
        ox, oy = (S[0] - body.center_xy[0]) / ax, (S[1] - body.center_xy[1]) / ay
        dx, dy = d[..., 0] / ax, d[..., 1] / ay
        a = dx * dx + dy * dy
        b = 2 * (ox * dx + oy * dy)
        cc = ox * ox + oy * oy - 1
        disc = np.maximum(b * b - 4 * a * cc, 0.0)
        return np.sqrt(disc) / a * length  # (t2 - t1) |Q - S|, mm

    ax, ay = body.semi_axes_mm
    outer, inner = chord(ax, ay), chord(ax - body.fat_mm, ay - body.fat_mm)
    return MU_PER_MM["fat"] * (outer - inner) + MU_PER_MM["muscle"] * inner


def project(anatomy: PelvisAnatomy, hip: HipAnatomy, beam: Beam, **volume_kw) -> np.ndarray:
    """Line integrals of attenuation (unitless) on the detector, rows superior to inferior, columns
    towards the patient's left.

    Parameters
    ----------
    anatomy : PelvisAnatomy
        The label map.
    hip : HipAnatomy
        The hip radiographed.
    beam : Beam
        The view.
    **volume_kw
        Passed to :func:`attenuation_volume` (``frog``, ``prosthesis``, ``step_mm``, ...).

    Returns
    -------
    ndarray, shape beam.shape
        Line integral through the body and the hip's attenuation volume.
    """
    mu, x, y, z = attenuation_volume(anatomy, hip, beam, **volume_kw)
    s = float(y[1] - y[0])
    S = beam.source
    cols, rows = beam.detector_points()
    total = _body_paths(anatomy, beam)
    Qx, Qz = np.meshgrid(cols, rows)
    path_per_dy = np.sqrt((Qx - S[0]) ** 2 + beam.source_to_detector_mm**2 + (Qz - S[2]) ** 2) / beam.source_to_detector_mm
    acc = np.zeros(beam.shape)
    for k, yk in enumerate(y):
        t = (yk - S[1]) / beam.source_to_detector_mm
        # detector pixel (r, c) meets plane k at x = S_x + t (cols[c] - S_x), z = S_z + t (rows[r] - S_z)
        scale = t * beam.detector_pixel_mm / s  # plane voxels per detector pixel, rows and columns
        off_c = (S[0] + t * (cols[0] - S[0]) - x[0]) / s
        off_r = (z[-1] - (S[2] + t * (rows[0] - S[2]))) / s
        plane = mu[k][::-1]  # rows from superior (z[-1]) down
        acc += affine_transform(plane, np.array([scale, scale]), offset=(off_r, off_c), output_shape=beam.shape,
                                order=1, mode="constant", cval=0.0)
    return total + acc * s * path_per_dy


def silhouette_depth_mm(hip: HipAnatomy, beam: Beam, rotation: np.ndarray | None = None,
                        n_angles: int = 720) -> tuple[float, float | None]:
    """Deepest inward displacement (mm at the head centre's plane) of the head's projected outline below
    the reference sphere's outline over the weight-bearing dome (within :data:`DOME_SECTOR_DEG` of
    superior; the fovea's notch lies outside it), and its image angle (degrees, counter-clockwise from the image's
    +column axis with rows pointing down, None when intact).

    The outline radius at each image angle is found by bisection on whether the ray meets the head
    (the head rotated by ``rotation`` about its centre for the frog-leg view).

    Parameters
    ----------
    hip : HipAnatomy
        The hip.
    beam : Beam
        The view (its source).
    rotation : ndarray, shape (3, 3), optional
        Rotation of the femur about the head centre (frog-leg view); None for the AP pose.
    n_angles : int
        Image angles around the whole circle (those within the dome sector are searched).

    Returns
    -------
    depth_mm : float
        Deepest inward displacement, mm (0 when intact).
    angle_deg : float or None
        Its image angle, degrees.
    """
    c, R = hip.c, hip.radius_mm
    S = beam.source
    D = float(np.linalg.norm(c - S))
    tangent = R * D / np.sqrt(D * D - R * R)  # outline radius of the sphere at the centre's plane
    inv = np.eye(3) if rotation is None else rotation.T
    phis = np.radians(np.arange(n_angles) * 360.0 / n_angles)
    phis = phis[np.abs(np.degrees(phis) - 90.0) <= DOME_SECTOR_DEG]
    n_angles = len(phis)
    lo = np.full(n_angles, tangent - 8.0)
    hi = np.full(n_angles, tangent + 0.01)
    along = np.linspace(-14.0, 14.0, 561)  # the chord of an 8 mm deep cut through a 27 mm ball, 0.05 mm steps

    def hits(rho: np.ndarray) -> np.ndarray:
        # a point at image radius rho and angle phi in the centre's plane (x right = +x lateral-left, up = +z)
        target = c[None, :] + rho[:, None] * (np.cos(phis)[:, None] * np.array([1.0, 0, 0])
                                              + np.sin(phis)[:, None] * SUPERIOR)
        u = target - S
        u /= np.linalg.norm(u, axis=1)[:, None]
        t0 = np.einsum("ij,j->i", u, c - S)
        pts = S + (t0[:, None, None] + along[None, :, None]) * u[:, None, :]
        local = c + (pts.reshape(-1, 3) - c) @ inv.T
        return hip.head_mask(local).reshape(n_angles, -1).any(axis=1)

    while np.max(hi - lo) > SILHOUETTE_TOL_MM:
        mid = 0.5 * (lo + hi)
        h = hits(mid)
        lo = np.where(h, mid, lo)
        hi = np.where(h, hi, mid)
    depth = tangent - lo
    k = int(np.argmax(depth))
    if depth[k] < 10 * SILHOUETTE_TOL_MM:
        return 0.0, None
    return float(depth[k]), float(np.degrees(phis[k]))




# --- radiograph studies ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RadiographSpec:
    """One radiograph of a label-map hip.

    Attributes
    ----------
    anatomy : LabelmapSpec
        The study whose anatomy is radiographed.
    side : {"right", "left"}
        The hip on the central ray.
    view : {"AP", "frog"}
        Anteroposterior, or frog-leg lateral (the femur abducted and externally rotated by ``frog_deg``).
    magnification : float
        Magnification of the head centre's plane.
    source_to_detector_mm : float
        Source-to-detector distance, mm.
    detector_pixel_mm : float
        Detector pixel pitch, mm.
    shape : (int, int)
        Detector size (rows, columns), pixels.
    offset_mm : (float, float)
        Moves the image window on the detector (mm), so heads do not sit at the centre.
    volume_step_mm : float
        Grid spacing of the attenuation volume, mm.
    photometric : {"MONOCHROME1", "MONOCHROME2"}
        Stored photometric interpretation.
    flipped : bool
        Mirror the image left-right, with PatientOrientation saying so.
    calibration : {"imager", "pixel_spacing", "none"}
        "imager" (ImagerPixelSpacing + EstimatedRadiographicMagnificationFactor), "pixel_spacing"
        (PixelSpacing at the patient, too) or "none" (pixel-only, as an exported image).
    prosthesis : bool
        A metal total hip replacement in place of the head.
    frog_deg : (float, float)
        Abduction and external rotation of the frog-leg pose, degrees.
    photons : float
        Unattenuated quanta per pixel (quantum noise).
    scatter_to_primary : float
        Mean scatter-to-primary ratio.
    seed : int
        Seed of the texture, noise and display gamma.
    """

    anatomy: LabelmapSpec
    side: str = "right"
    view: str = "AP"
    magnification: float = 1.15
    source_to_detector_mm: float = 1150.0
    detector_pixel_mm: float = 0.2
    shape: tuple[int, int] = (620, 620)
    offset_mm: tuple[float, float] = (0.0, 0.0)
    volume_step_mm: float = VOLUME_STEP_MM
    photometric: str = "MONOCHROME2"
    flipped: bool = False
    calibration: str = "imager"
    prosthesis: bool = False
    frog_deg: tuple[float, float] = (45.0, 35.0)
    photons: float = 8000.0
    scatter_to_primary: float = 0.35
    seed: int = 0


def _beam(spec: RadiographSpec, hip: HipAnatomy) -> Beam:
    return Beam(hip.c, spec.magnification, spec.source_to_detector_mm, spec.detector_pixel_mm, spec.shape,
                offset_mm=spec.offset_mm)


def render_radiograph(spec: RadiographSpec) -> tuple[np.ndarray, dict]:
    """Render one label-map radiograph and report its truth.

    Parameters
    ----------
    spec : RadiographSpec
        The view.

    Returns
    -------
    pixels : ndarray of uint16, shape spec.shape
        Bone bright, 12-bit, as stored after any flip.
    truth : dict
        The view (side, photometric, calibration, magnification, pixel sizes mm) and, per hip, the
        projected head centre ``center_px`` (row, col) and radius (px and mm), the silhouette collapse
        depth (mm) and its image direction, the 3-D depth (mm) and whether a prosthesis or a
        radiographic lesion is drawn.

    Raises
    ------
    InputError
        When the spec describes an impossible hip.
    """
    anatomy = spec.anatomy.anatomy()
    hip = anatomy.hip(spec.side)
    beam = _beam(spec, hip)
    rot = frog_rotation(hip, *spec.frog_deg) if spec.view == "frog" else None
    visible = getattr(spec.anatomy, spec.side).radiographic_lesion
    line = project(anatomy, hip, beam, frog=rot, prosthesis=spec.prosthesis, step_mm=spec.volume_step_mm,
                   texture_seed=spec.seed, lesion_visible=visible)
    rng = np.random.default_rng([spec.seed, 3])
    primary = spec.photons * np.exp(-line)
    scatter = spec.scatter_to_primary * gaussian_filter(primary, 25.0 / spec.detector_pixel_mm, mode="nearest")
    signal = primary + scatter
    counts = np.maximum(signal + np.sqrt(signal) * rng.standard_normal(signal.shape), 1.0)
    shown = -np.log(counts / spec.photons)
    lo, hi = np.percentile(shown, [0.5, 99.8])
    gamma = rng.uniform(0.8, 1.25)
    pixels = np.rint(4095 * np.clip((shown - lo) / (hi - lo), 0, 1) ** gamma).astype(np.uint16)
    r0, c0 = beam.centre_px
    row = r0 + spec.offset_mm[1] / spec.detector_pixel_mm
    col = c0 - spec.offset_mm[0] / spec.detector_pixel_mm
    depth, angle = silhouette_depth_mm(hip, beam, rot)
    if spec.prosthesis:
        depth, angle = 0.0, None
    direction = None
    if angle is not None:
        direction = [-np.sin(np.radians(angle)), np.cos(np.radians(angle))]  # (d_row, d_col) in the image
    if spec.flipped:
        pixels = pixels[:, ::-1]
        col = spec.shape[1] - 1 - col
        if direction is not None:
            direction[1] = -direction[1]
    S = beam.source
    D = float(np.linalg.norm(hip.c - S))
    tangent = hip.radius_mm * D / np.sqrt(D * D - hip.radius_mm**2)
    truth = {
        "view": spec.view, "side": spec.side, "photometric": spec.photometric, "flipped": spec.flipped,
        "calibration": spec.calibration, "magnification": spec.magnification,
        "detector_pixel_mm": spec.detector_pixel_mm,
        "pixel_size_mm": None if spec.calibration == "none" else spec.detector_pixel_mm / spec.magnification,
        "prosthesis": spec.prosthesis,
        "hips": [{"side": spec.side, "center_px": [float(row), float(col)],
                  "radius_px": float(tangent * spec.magnification / spec.detector_pixel_mm),
                  "radius_mm": hip.radius_mm, "radius_projected_mm": float(tangent),
                  "collapse_depth_mm": depth, "collapse_direction_image": direction,
                  "collapse_depth_3d_mm": 0.0 if hip.depression is None else hip.depression.depth_mm,
                  "prosthesis": spec.prosthesis,
                  "radiographic_lesion": bool(getattr(spec.anatomy, spec.side).lesion != "none" and visible)}],
    }
    return pixels, truth


def write_labelmap_radiograph(path, spec: RadiographSpec, *, study_instance_uid: str | None = None) -> dict:
    """Write one radiograph as DX DICOM.

    Parameters
    ----------
    path : path
        The DICOM file.
    spec : RadiographSpec
        The view; ``calibration`` decides which pixel-size tags are written.
    study_instance_uid : str, optional
        Put the radiograph in this study (new when omitted).

    Returns
    -------
    dict
        Its truth (:func:`render_radiograph`) with the file name under ``"file"``.
    """
    from pathlib import Path

    from onfh_imaging.io.dicom_write import write_radiograph

    pixels, truth = render_radiograph(spec)
    orientation = ["R" if spec.flipped else "L", "F"]
    extra: dict = {"PatientOrientation": orientation}
    if spec.calibration == "none":
        extra.update({"ImagerPixelSpacing": None, "EstimatedRadiographicMagnificationFactor": None,
                      "DistanceSourceToPatient": None, "DistanceSourceToDetector": None, "PixelSpacing": None})
    size = spec.detector_pixel_mm
    write_radiograph(pixels, path, imager_pixel_spacing=(size, size),
                     magnification=None if spec.calibration == "none" else spec.magnification,
                     pixel_spacing=(size / spec.magnification,) * 2 if spec.calibration == "pixel_spacing" else None,
                     photometric=spec.photometric, view="frog" if spec.view == "frog" else "AP",
                     laterality=spec.side, patient_id=spec.anatomy.patient_id,
                     study_instance_uid=study_instance_uid,
                     series_description=f"HIP {'FROG' if spec.view == 'frog' else 'AP'} {spec.side.upper()}",
                     source_to_detector_mm=spec.source_to_detector_mm, extra=extra)
    truth["file"] = Path(path).name
    return truth


RADIOGRAPH_TRUTH_SCHEMA = "onfh-imaging/phantom-radiograph-truth/1"


def write_labelmap_radiograph_study(out_dir, spec: LabelmapSpec, *, study_instance_uid: str | None = None,
                                    **view_kw) -> dict:
    """AP and frog-leg radiographs of every imaged hip of ``spec``: ``OUT_DIR/{AP,FROG}_{SIDE}.dcm`` and
    ``OUT_DIR/radiograph_truth.json`` (written last).

    Parameters
    ----------
    out_dir : path
        Folder to create or fill.
    spec : LabelmapSpec
        The study whose anatomy is radiographed (its seed also seeds the noise).
    study_instance_uid : str, optional
        Put the radiographs in this study (e.g. the MR study's).
    **view_kw
        Fields of :class:`RadiographSpec` for every view (magnification, detector_pixel_mm, shape...).

    Returns
    -------
    dict
        The truth document: ``{"schema", "family", "files", "views": [...]}``.
    """
    from pathlib import Path

    from onfh_imaging.io._atomic import write_json
    from onfh_imaging.phantom.labelmap.study import FAMILY

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    views = []
    for side in spec.sides:
        for view in ("AP", "frog"):
            view_spec = RadiographSpec(spec, side, view, seed=spec.seed, **view_kw)
            views.append(write_labelmap_radiograph(out / f"{view.upper()}_{side.upper()}.dcm", view_spec,
                                                   study_instance_uid=study_instance_uid))
    truth = {"schema": RADIOGRAPH_TRUTH_SCHEMA, "family": FAMILY, "files": [v["file"] for v in views],
             "views": views}
    write_json(out / "radiograph_truth.json", truth)
    return truth


def xray_grid() -> list[tuple[str, RadiographSpec]]:
    """The radiograph benchmark: 10 views over sides, AP and frog-leg, collapse 0-4 mm, magnification
    1.1-1.25, pixels 0.1-0.2 mm, MONOCHROME1 and 2, flipped images, pixel-only files and prostheses.

    Returns
    -------
    list of (str, RadiographSpec)
        Name and spec of each view.
    """
    from onfh_imaging.phantom.labelmap.study import HipDisease, LabelmapSpec

    D = HipDisease
    cases = [
        ("xr00", "right", "AP", D(), {}),
        ("xr01", "right", "frog", D(3.0, 30.0, "large", "fluid"), {"photometric": "MONOCHROME1"}),
        ("xr02", "left", "AP", D(2.0, 28.0, "large", "fatty"), {"flipped": True, "calibration": "pixel_spacing",
                                                               "magnification": 1.2}),
        ("xr03", "left", "frog", D(4.0, 32.0, "large", "mixed"), {"detector_pixel_mm": 0.1, "shape": (1100, 1100),
                                                                 "magnification": 1.25}),
        ("xr04", "right", "AP", D(1.5, 26.0, "irregular", "fatty"), {"calibration": "none", "offset_mm": (6.0, -5.0)}),
        ("xr05", "left", "AP", D(), {"prosthesis": True, "photometric": "MONOCHROME1"}),
        ("xr06", "right", "AP", D(), {"prosthesis": True, "flipped": True, "magnification": 1.1}),
        ("xr07", "left", "AP", D(), {"photons": 2000.0, "scatter_to_primary": 0.6, "detector_pixel_mm": 0.15,
                                     "shape": (760, 760), "magnification": 1.1}),
        ("xr08", "right", "AP", D(0.0, lesion="small"), {"offset_mm": (-8.0, 6.0)}),
        ("xr09", "right", "frog", D(), {"calibration": "none", "flipped": True}),
    ]
    out = []
    for n, (name, side, view, disease, kw) in enumerate(cases):
        anatomy = LabelmapSpec(hips=side, **{side: disease}, head_radius_mm=(22.0, 24.0, 26.0)[n % 3],
                               joint_space_mm=(2.0, 3.5, 1.5)[n % 3], coverage_pct=(80.0, 65.0, 95.0)[n % 3],
                               cam_bump=n % 4 == 0, seed=200 + n, patient_id=f"LMXR{n:02d}")
        out.append((name, RadiographSpec(anatomy, side, view, seed=n, **kw)))
    return out


__all__ = ["DOME_SECTOR_DEG", "FEMUR_TISSUES", "MU_METAL_PER_MM", "MU_PER_MM", "RADIOGRAPH_TRUTH_SCHEMA", "Beam",
           "RadiographSpec", "attenuation_volume", "frog_rotation", "project", "render_radiograph",
           "silhouette_depth_mm", "write_labelmap_radiograph", "write_labelmap_radiograph_study", "xray_grid"]
