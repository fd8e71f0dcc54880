"""The reading widget's controls and their layout, built in groups: series and Segment, hips and measures,
display and corrections, reads and Confirm.

:class:`ReadingPanel` is the layout half of :class:`~onfh_napari._widget.ReadingWidget`: it creates the
controls as the widget's attributes and connects them to the widget's handlers (``_on_series_changed``,
``segment``, ``ask_and_confirm``...), which the widget defines.
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from onfh_imaging.reads import default_db_path

from . import _layers as L

HIPS_LIST_HEIGHT_PX = 56  # two rows, one per hip
NOTES_HEIGHT_PX = 90  # about five lines of warnings, or of previous reads
VERDICT_HEIGHT_PX = 120  # two hips' verdicts with their evidence lines


class ReadingPanel(QWidget):
    """The controls of the reading widget, top to bottom in one scrolling column."""

    def _build_ui(self) -> None:
        self._make_series_controls()
        self._make_hip_controls()
        self._make_correction_controls()
        self._make_read_controls()
        self._lay_out()

    def _make_series_controls(self) -> None:
        self.series_combo = QComboBox()
        self.series_combo.currentIndexChanged.connect(self._on_series_changed)
        self.segment_button = QPushButton("Segment (Shift-S)")
        self.segment_button.clicked.connect(lambda: self.segment())
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setWordWrap(True)

    def _make_hip_controls(self) -> None:
        self.hips_list = QListWidget()
        self.hips_list.setMaximumHeight(HIPS_LIST_HEIGHT_PX)
        self.hips_list.currentRowChanged.connect(self._on_hip_row)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Automatic", "Current"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.notes = QTextBrowser()
        self.notes.setMaximumHeight(NOTES_HEIGHT_PX)
        self.verdict_view = QTextBrowser()
        self.verdict_view.setMaximumHeight(VERDICT_HEIGHT_PX)

    def _make_correction_controls(self) -> None:
        self.outline = QCheckBox("Outline masks (show the band under them)")
        self.outline.toggled.connect(self._apply_outline)
        self.deviation = QCheckBox("Deviation map with colour bar (3D view)")
        self.deviation.setChecked(True)
        self.deviation.toggled.connect(self._show_deviation)
        self.legend = QLabel(L.DEVIATION_LEGEND)
        self.legend.setWordWrap(True)
        self.seed_side = QComboBox()
        self.seed_side.addItems(["right", "left"])
        self.seed_button = QPushButton("Click head centre / outline")
        self.seed_button.clicked.connect(lambda: self.seed_layer())
        self.seed_segment = QPushButton("Segment from seeds")
        self.seed_segment.clicked.connect(lambda: self.segment(from_seeds=True))
        self.ruler_button = QPushButton("Measure collapse by hand (line)")
        self.ruler_button.clicked.connect(self.add_collapse_ruler)
        self.ruler_label = QLabel("")

    def _make_read_controls(self) -> None:
        self.db_path = QLineEdit(str(default_db_path()))
        self.db_path.editingFinished.connect(self.refresh_reads)
        self.blind = QCheckBox("Blind read (hide previous reads until I confirm)")
        self.blind.toggled.connect(self.refresh_reads)
        self.reads_view = QTextBrowser()
        self.reads_view.setMaximumHeight(NOTES_HEIGHT_PX)
        self.confirm_button = QPushButton("Confirm each hip (Shift-C)")
        self.confirm_button.clicked.connect(self.ask_and_confirm)
        self.confirm_button.setEnabled(False)

    def _lay_out(self) -> None:
        # the controls scroll inside the dock rather than squeeze one another when the dock is short
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        self._lay_out_review(layout)
        self._lay_out_corrections(layout)
        self._lay_out_reads(layout)

    def _lay_out_review(self, layout: QVBoxLayout) -> None:
        layout.addWidget(QLabel("Series"))
        layout.addWidget(self.series_combo)
        row = QHBoxLayout()
        row.addWidget(self.segment_button)
        row.addWidget(self.progress)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Hips (click to select and centre)"))
        layout.addWidget(self.hips_list)
        layout.addWidget(self.table)
        layout.addWidget(QLabel("Warnings and review reasons"))
        layout.addWidget(self.notes)
        layout.addWidget(QLabel("Visit verdict (every series of this visit read here)"))
        layout.addWidget(self.verdict_view)

    def _lay_out_corrections(self, layout: QVBoxLayout) -> None:
        for widget in (self.outline, self.deviation, self.legend):
            layout.addWidget(widget)
        seeds = QHBoxLayout()
        for widget in (self.seed_side, self.seed_button, self.seed_segment):
            seeds.addWidget(widget)
        layout.addLayout(seeds)
        layout.addWidget(self.ruler_button)
        layout.addWidget(self.ruler_label)

    def _lay_out_reads(self, layout: QVBoxLayout) -> None:
        form = QFormLayout()
        form.addRow("Reads database", self.db_path)
        layout.addLayout(form)
        layout.addWidget(self.blind)
        layout.addWidget(QLabel("Previous reads"))
        layout.addWidget(self.reads_view)
        layout.addWidget(self.confirm_button)


__all__ = ["ReadingPanel"]
