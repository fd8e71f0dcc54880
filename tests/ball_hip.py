"""A hip MRI built independently of :mod:`onfh_imaging.phantom`, to test that segmentation generalises.

Other construction choices on purpose: a ball head with a depressed segment, cylinder neck and shaft, an
acetabular shell beyond a joint space of cartilage and fluid, a wedge lesion (a cone from the head centre)
bounded by a dark band, other tissue intensities, Rician noise and a linear bias field; one hip on a
coronal series of 0.6-0.7 mm pixels and 3.5-4.5 mm slices. Voxels are box averages of point samples
(partial volume across the thick slices). Truth is exact geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onfh_imaging.geometry import Volume

CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # columns: i -> L, j -> down, k -> P

#: Tissue signal (fraction of full scale): T1, other values than the project's generator.
T1 = {"marrow": 0.82, "cortex": 0.07, "cartilage": 0.40, "fluid": 0.12, "acetabular_marrow": 0.74,
      "muscle": 0.30, "fat": 0.95, "lesion_core": 0.66, "band": 0.10}


@dataclass(frozen=True)
class BallHip:
    """Geometry (mm) of one right hip; the head centre is at the origin."""

    radius_mm: float = 24.0
    collapse_mm: float = 0.0            # depth of the depressed segment at its centre
    collapse_half_angle_deg: float = 25.0
    lesion_half_angle_deg: float = 0.0  # 0: no lesion; cone half-angle of the wedge otherwise
    lesion_depth_fraction: float = 0.45  # the wedge reaches from this fraction of R to the surface
    band_mm: float = 2.0
    cortex_mm: float = 1.2
    cartilage_mm: float = 1.6
    fluid_mm: float = 1.0
    acetabular_cartilage_mm: float = 1.4
    acetabular_cortex_mm: float = 1.6
    coverage_deg: float = 80.0          # acetabular shell within this angle of the superomedial axis
    neck_shaft_deg: float = 130.0
    pixel_mm: float = 0.65
    slice_mm: float = 4.0
    matrix: int = 150
    n_slices: int = 16
    noise: float = 0.03
    bias: float = 0.15
    scale: float = 2500.0
    seed: int = 0

    @property
    def dome(self) -> np.ndarray:
        """Centre of the weight-bearing dome: superior, 15 deg lateral (-x for the right hip)."""
        a = np.radians(15.0)
        return np.array([-np.sin(a), 0.0, np.cos(a)])

    @property
    def neck_axis(self) -> np.ndarray:
        e = np.radians(self.neck_shaft_deg - 90.0)  # below horizontal, lateral
        return np.array([-np.cos(e), 0.0, -np.sin(e)])

    def surface_radius(self, u: np.ndarray) -> np.ndarray:
        """Bone surface radius (mm) per unit direction ``(..., 3)``: the ball with its depressed segment."""
        r = np.full(u.shape[:-1], self.radius_mm)
        if self.collapse_mm > 0:
            # the segment sinks as a block: a flat floor, its rim a 6 deg ramp
            ang = np.degrees(np.arccos(np.clip(u @ self.dome, -1, 1)))
            rim = np.clip((self.collapse_half_angle_deg - ang) / 6.0, 0.0, 1.0)
            r = r - self.collapse_mm * 0.5 * (1 - np.cos(np.pi * rim))
        return r

    def labels(self, p: np.ndarray) -> np.ndarray:
        """Signal (fraction of full scale) at points ``(n, 3)`` (LPS mm, head centre at origin)."""
        rho = np.linalg.norm(p, axis=1)
        u = p / np.maximum(rho, 1e-9)[:, None]
        rs = self.surface_radius(u)
        out = np.full(len(p), T1["muscle"])
        # subcutaneous fat far lateral and inferior-lateral
        out[p[:, 0] < -60.0] = T1["fat"]
        # acetabular shell: cartilage, cortex, pelvic marrow over the covered directions
        medial_sup = np.array([np.sin(np.radians(35.0)), 0.0, np.cos(np.radians(35.0))])
        covered = u @ medial_sup > np.cos(np.radians(self.coverage_deg))
        r_acet = self.radius_mm + self.cartilage_mm + self.fluid_mm
        acet = covered & (rho >= r_acet) & (rho < r_acet + 22.0)
        out[acet] = T1["acetabular_marrow"]
        out[acet & (rho < r_acet + self.acetabular_cartilage_mm + self.acetabular_cortex_mm)] = T1["cortex"]
        out[acet & (rho < r_acet + self.acetabular_cartilage_mm)] = T1["cartilage"]
        # joint fluid between the cartilages (and a thin film elsewhere on the head)
        joint = (rho >= rs) & (rho < r_acet) & covered
        out[joint] = T1["fluid"]
        out[(rho >= rs) & (rho < rs + self.cartilage_mm) & (self._articular(u))] = T1["cartilage"]
        # femur: head ball, neck and shaft cylinders
        bone = rho < rs
        n = self.neck_axis
        t = p @ n
        radial = np.linalg.norm(p - t[:, None] * n, axis=1)
        neck_r = 0.55 * self.radius_mm
        neck = (t > 0) & (t < 45.0) & (radial < neck_r)
        base = 45.0 * n
        q = p - base
        shaft = (q[:, 2] < 0) & (np.hypot(q[:, 0], q[:, 1]) < 0.5 * self.radius_mm)
        femur = bone | neck | shaft
        cortex = femur & ~self._inside_femur(p, self.cortex_mm)
        out[femur] = T1["marrow"]
        out[cortex] = T1["cortex"]
        lesion, band = self._lesion(p, rho, u, rs)
        out[lesion] = T1["lesion_core"]
        out[band] = T1["band"]
        return out

    def _articular(self, u: np.ndarray) -> np.ndarray:
        return u @ self.neck_axis < np.cos(np.radians(60.0))

    def _inside_femur(self, p: np.ndarray, depth: float) -> np.ndarray:
        """Points deeper than ``depth`` mm inside the femur (approximated per part)."""
        rho = np.linalg.norm(p, axis=1)
        u = p / np.maximum(rho, 1e-9)[:, None]
        head = rho < self.surface_radius(u) - depth
        n = self.neck_axis
        t = p @ n
        radial = np.linalg.norm(p - t[:, None] * n, axis=1)
        neck = (t > 0) & (t < 45.0) & (radial < 0.55 * self.radius_mm - depth)
        q = p - 45.0 * n
        shaft = (q[:, 2] < 0) & (np.hypot(q[:, 0], q[:, 1]) < 0.5 * self.radius_mm - depth)
        return head | neck | shaft

    def _lesion(self, p, rho, u, rs) -> tuple[np.ndarray, np.ndarray]:
        if self.lesion_half_angle_deg <= 0:
            z = np.zeros(len(p), bool)
            return z, z
        ang = np.degrees(np.arccos(np.clip(u @ self.dome, -1, 1)))
        r0 = self.lesion_depth_fraction * self.radius_mm
        wedge = (ang < self.lesion_half_angle_deg) & (rho >= r0) & (rho < rs - self.cortex_mm)
        # the band: the wedge's deep face and cone sides, band_mm thick, inside the wedge
        side_mm = rho * np.radians(self.lesion_half_angle_deg - ang)
        band = wedge & ((rho < r0 + self.band_mm) | (side_mm < self.band_mm))
        return wedge & ~band, band

    def lesion_volume_ml(self, n: int = 400_000) -> float:
        """Lesion (band included, out to the bone surface) volume in mL by quasi-Monte Carlo."""
        if self.lesion_half_angle_deg <= 0:
            return 0.0
        rng = np.random.default_rng(123)
        R = self.radius_mm
        p = rng.uniform(-R, R, (n, 3))
        rho = np.linalg.norm(p, axis=1)
        u = p / np.maximum(rho, 1e-9)[:, None]
        rs = self.surface_radius(u)
        ang = np.degrees(np.arccos(np.clip(u @ self.dome, -1, 1)))
        inside = (ang < self.lesion_half_angle_deg) & (rho >= self.lesion_depth_fraction * R) & (rho < rs)
        return float(inside.mean() * (2 * R) ** 3 / 1000.0)

    def render(self) -> Volume:
        """The coronal T1 series as a Volume, head centre at LPS (-80, 10, 0) mm (a right hip)."""
        rng = np.random.default_rng(self.seed)
        center = np.array([-80.0, 10.0, 0.0])
        # head centre 10 mm right of and 8 mm above the middle of the field of view
        mid = center + np.array([10.0, 0.0, -8.0])
        spacing = (self.pixel_mm, self.pixel_mm, self.slice_mm)
        origin = mid - CORONAL @ ((np.array([self.matrix, self.matrix, self.n_slices]) - 1) / 2.0 * spacing)
        vol = Volume(np.zeros((self.n_slices, self.matrix, self.matrix), np.float32), spacing=spacing,
                     origin=tuple(origin), direction=CORONAL)
        sub = [(np.arange(k) + 0.5) / k - 0.5 for k in (2, 2, 5)]
        offs = np.stack(np.meshgrid(*sub, indexing="ij"), -1).reshape(-1, 3)
        out = np.zeros(vol.shape, np.float32)
        jj, ii = np.meshgrid(np.arange(self.matrix), np.arange(self.matrix), indexing="ij")
        for k in range(self.n_slices):
            ijk = np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, k)], -1).astype(float)
            pts = vol.index_to_lps((ijk[:, None, :] + offs[None]).reshape(-1, 3)) - center
            out[k] = self.labels(pts).reshape(ijk.shape[0], len(offs)).mean(axis=1).reshape(ii.shape)
        lps = vol.voxel_centers_lps() - center
        bias = 1.0 + self.bias * (lps[..., 0] + lps[..., 2]) / 80.0
        signal = out * bias
        sigma = self.noise
        noisy = np.hypot(signal + rng.normal(0, sigma, signal.shape), rng.normal(0, sigma, signal.shape))
        return vol.with_array((noisy * self.scale).astype(np.float32))

    def truth(self) -> dict:
        center = np.array([-80.0, 10.0, 0.0])
        return {"center_lps": center, "radius_mm": self.radius_mm, "collapse_mm": self.collapse_mm,
                "lesion_ml": self.lesion_volume_ml(), "side": "right"}
