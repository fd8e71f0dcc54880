"""onfh-imaging: measure osteonecrosis of the femoral head on hip MRI and radiographs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("onfh-imaging")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from onfh_imaging.errors import OnfhError  # noqa: E402
from onfh_imaging.geometry import Radiograph, Volume  # noqa: E402

__all__ = ["OnfhError", "Radiograph", "Volume", "__version__"]
