"""DICOM headers read by byte comparison with the layout of a header already walked.

The files of a series written by one device usually differ in a few values only; :class:`HeaderReader`
reads such files without walking their elements, and gives the header :func:`onfh_imaging.io._header.read_header`
gives.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from onfh_imaging.io._header import (
    _TAG_TO_KEYWORD,
    _UNDEFINED,
    Header,
    _element_header,
    _Fallback,
    _NeedMore,
    _read_header,
)

__all__ = ["HeaderReader"]

_PREAMBLE = 0  # element index given to the 128-byte preamble, whose content is never read
_STRUCTURAL = -1  # tag, VR and length bytes, and the DICM marker
_SYNTAX = "\x00transfer syntax"


class _Layout:
    """Where every top-level element of one walked header lies.

    The files of a series written by one device usually differ in a few values only (instance UID,
    position, instance number). A header whose tag, VR and length bytes are all identical to a walked
    one has the same elements at the same offsets, so the walk would visit exactly the same places:
    its values are sliced out directly, and values whose bytes did not change are shared, already
    decoded, with the walked header.
    """

    __slots__ = ("end", "reference", "owner", "elements", "values", "numbers", "syntax", "pixel_length")

    def __init__(self, buf: bytes, header: Header):
        end = header.pixel_offset
        elements: list[tuple[str | None, bytes, int, int]] = [(None, b"", 0, 128)]
        owners, runs = [_PREAMBLE, _STRUCTURAL], [128, 4]  # the preamble, then the DICM marker
        seen: set[str] = set()
        pos = 132
        while pos < end:
            tag, vr, length, start = _element_header(buf, pos)
            if length == _UNDEFINED:
                raise _Fallback  # items of undefined length: structure the byte comparison cannot see
            stop = start + length if start < end else start
            keyword = _TAG_TO_KEYWORD.get(tag) or (_SYNTAX if tag == 0x00020010 else None)
            if keyword is not None:
                if keyword in seen:
                    raise _Fallback
                seen.add(keyword)
            owners += [_STRUCTURAL, len(elements)]
            runs += [start - pos, stop - start]
            elements.append((keyword, vr, start, stop))
            pos = stop
        if pos != end:
            raise _Fallback
        self.end = end
        self.reference = np.frombuffer(buf, dtype=np.uint8, count=end).copy()
        self.owner = np.repeat(np.array(owners, dtype=np.int32), runs)
        self.elements = elements
        self.values = {k: header.text(k) for k in header.values}
        self.numbers = {k: header.floats(k) for k in header.values}
        self.syntax = header.transfer_syntax
        self.pixel_length = header.pixel_length

    def read(self, buf: bytes, path: Path) -> Header | None:
        """The header of a file whose first bytes are ``buf``, or None when laid out differently."""
        end = self.end
        if len(buf) < end:
            return None
        changed_bytes = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8, count=end) != self.reference)
        values = self.values.copy()
        numbers = self.numbers.copy()
        if changed_bytes.size:
            owners = self.owner[changed_bytes]
            if owners.min() == _STRUCTURAL:
                return None
            changed = np.zeros(len(self.elements), dtype=bool)
            changed[owners] = True
            for index in np.flatnonzero(changed).tolist():
                keyword, vr, start, stop = self.elements[index]
                if keyword is None:
                    continue
                if keyword == _SYNTAX:
                    return None
                values[keyword] = (vr, buf[start:stop])
                del numbers[keyword]
        return Header(path=path, values=values, transfer_syntax=self.syntax, pixel_offset=end,
                      pixel_length=self.pixel_length, _numbers=numbers)


class HeaderReader:
    """Reads headers like :func:`read_header`, faster for files laid out like ones it has read.

    Keeps the layouts of the last few walked headers; a file whose structure matches one is read by
    comparing bytes instead of walking its elements (see :class:`_Layout`). Anything that differs in
    structure is walked as usual, so the result is always the one :func:`read_header` gives.

    Parameters
    ----------
    max_layouts : int
        How many layouts to keep (the series of one folder seldom have more).
    """

    def __init__(self, max_layouts: int = 8):
        self._layouts: list[_Layout] = []
        self._max = max_layouts

    def __call__(self, path: str | os.PathLike) -> Header:
        return _read_header(path if isinstance(path, Path) else Path(path), self)

    def match(self, buf: bytes, path: Path, file_size: int | None) -> Header | None:
        """The header of a file laid out like one already read, by byte comparison; None when none fits.

        Parameters
        ----------
        buf : bytes
            The file's first bytes (at least up to its pixel data for a match).
        path : Path
            The file, recorded in the header.
        file_size : int or None
            The file's size in bytes; the layout whose pixel data ends there is tried first.

        Returns
        -------
        Header or None
        """
        layouts = self._layouts
        if file_size is not None:  # pixel data usually ends the file: try the layout that fits first
            layouts = sorted(layouts, key=lambda lay: lay.end + (lay.pixel_length or 0) != file_size)
        for layout in layouts:
            header = layout.read(buf, path)
            if header is not None:
                self._layouts.remove(layout)
                self._layouts.insert(0, layout)
                return header
        return None

    def learn(self, buf: bytes, header: Header) -> None:
        """Remember the layout of a walked header (most recent first, at most ``max_layouts``).

        Parameters
        ----------
        buf : bytes
            The first bytes of the file the header was walked from.
        header : Header
            Its header; headers read by pydicom or without pixel data in ``buf`` are not kept.
        """
        if header.pixel_offset is None or header.pixel_offset > len(buf) or header.dataset is not None:
            return
        try:
            layout = _Layout(buf, header)
        except (_Fallback, _NeedMore, struct.error):
            return
        self._layouts.insert(0, layout)
        del self._layouts[self._max:]
