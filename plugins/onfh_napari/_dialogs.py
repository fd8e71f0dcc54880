"""Dialogs of the reading widget: one confirmation per hip, and asking before edits are discarded."""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)

from onfh_imaging.errors import InputError, OnfhError
from onfh_imaging.reading import HipDecision, ReadingSession, measure_value
from onfh_imaging.reads import ARCO_2019_STAGES, NOT_ASSESSABLE

CHOOSE = "(choose)"


class ConfirmDialog(QDialog):
    """Asks for the reader's name, each hip's final ARCO 2019 stage (or not assessable) and comments.

    A hip's suggested stage is preselected when it is one stage; otherwise (a range such as ``I-II``, or
    none) the reader must choose. A hip whose measurement failed starts at "not assessable"; choosing a
    stage for it is refused with the session's reason, shown in the dialog, which stays open.

    Parameters
    ----------
    session : ReadingSession
        The session whose hips are confirmed.
    parent : QWidget, optional
        The Qt parent.
    """

    def __init__(self, session: ReadingSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Confirm read")
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("name or initials")
        form = QFormLayout(self)
        form.addRow("Reader", self.reader)
        self.stages: dict[str, QComboBox] = {}
        self.comments: dict[str, QLineEdit] = {}
        for hip in session.hips:
            combo = QComboBox()
            combo.addItems([CHOOSE, *ARCO_2019_STAGES, NOT_ASSESSABLE])
            suggested = measure_value(hip.current, "staging", "arco_2019")
            combo.setCurrentText(NOT_ASSESSABLE if hip.current is None
                                 else (suggested if suggested in ARCO_2019_STAGES else CHOOSE))
            self.stages[hip.side] = combo
            self.comments[hip.side] = QLineEdit()
            form.addRow(f"{hip.side.capitalize()} hip: final ARCO 2019", combo)
            form.addRow(f"{hip.side.capitalize()} hip: comment", self.comments[hip.side])
        self.comment = QPlainTextEdit()
        self.comment.setMaximumHeight(60)
        form.addRow("Comment on the study", self.comment)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form.addRow(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def decisions(self) -> dict[str, HipDecision]:
        """The decision chosen for each hip; InputError when a hip has none yet."""
        for side, combo in self.stages.items():
            if combo.currentText() == CHOOSE:
                raise InputError(f"choose the {side} hip's final ARCO 2019 stage, or {NOT_ASSESSABLE}")
        return {side: HipDecision(combo.currentText(), comment=self.comments[side].text().strip())
                for side, combo in self.stages.items()}

    def _accept_if_valid(self) -> None:
        if not self.reader.text().strip():
            self.message.setText("Type your name or initials.")
            self.reader.setFocus()
            return
        try:
            self.session.check_decisions(self.decisions())  # decisions() raises when one is missing
        except OnfhError as exc:
            self.message.setText(str(exc))
            return
        self.accept()


def ask_discard_edits(parent: QWidget, sides: Sequence[str]) -> bool:
    """Ask whether segmenting again may discard the reader's edits.

    Parameters
    ----------
    parent : QWidget
        The widget the question box belongs to.
    sides : sequence of str
        The hips whose masks were edited.

    Returns
    -------
    bool
        True when the reader chose to segment again.
    """
    answer = QMessageBox.question(
        parent, "Segment again?",
        f"Segmenting again discards your edits of the {' and '.join(sides)} hip masks. Segment again?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
