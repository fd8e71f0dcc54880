"""napari plugin of onfh-imaging: open hip studies, segment, correct the masks and confirm a read."""

from ._reader import napari_get_reader, read_study
from ._sample_data import phantom_study
from ._widget import ReadingWidget

__all__ = ["ReadingWidget", "napari_get_reader", "phantom_study", "read_study"]
