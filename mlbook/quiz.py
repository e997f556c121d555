"""Self-check questions: multiple choice and numeric answers, checked in the reader's browser.

A chapter ends a section with a few questions::

    from mlbook.quiz import Choice, Number, Quiz

    Quiz([
        Choice("Which way does the gradient point?", ["uphill", "downhill"], answer=0,
               explain="It is the direction of steepest ascent; descent steps against it."),
        Number("What is d/dx of x² at x = 3?", answer=6, tolerance=0.01,
               explain="d/dx x² = 2x, and 2 · 3 = 6."),
    ])

Feedback is immediate and needs no kernel: the questions, answers and explanations travel in the
page with the widget. Without JavaScript (and in the PDF) the questions show as a list, with
their answers after them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import traitlets

from mlbook.widgets import BookWidget


@dataclass(frozen=True)
class Choice:
    """A multiple-choice question: ``answer`` is the index of the right option in ``options``.

    ``why``, optional, gives one line per option, shown when the reader picks it.
    """

    text: str
    options: Sequence[str]
    answer: int
    explain: str
    why: Sequence[str] | None = None

    def __post_init__(self):
        _text(self.text, "question")
        _text(self.explain, "explanation")
        if len(self.options) < 2 or not all(isinstance(o, str) and o.strip()
                                            for o in self.options):
            raise ValueError(f"'{self.text[:40]}': a choice needs at least two non-empty options.")
        if not isinstance(self.answer, int) or not 0 <= self.answer < len(self.options):
            raise ValueError(f"'{self.text[:40]}': answer must be the index of an option, "
                             f"0 to {len(self.options) - 1}; got {self.answer!r}.")
        if self.why is not None and len(self.why) != len(self.options):
            raise ValueError(f"'{self.text[:40]}': give one 'why' line per option "
                             f"({len(self.options)}), or none.")

    def as_dict(self) -> dict:
        return {"kind": "choice", "text": self.text, "options": list(self.options),
                "answer": self.answer, "explain": self.explain,
                "why": list(self.why) if self.why is not None else None}

    def answer_text(self) -> str:
        return self.options[self.answer]


@dataclass(frozen=True)
class Number:
    """A numeric question: a reply within ``tolerance`` of ``answer`` (absolute) is right."""

    text: str
    answer: float
    tolerance: float
    explain: str
    unit: str = ""

    def __post_init__(self):
        _text(self.text, "question")
        _text(self.explain, "explanation")
        if not isinstance(self.answer, (int, float)) or not math.isfinite(self.answer):
            raise ValueError(f"'{self.text[:40]}': the answer must be a finite number, "
                             f"got {self.answer!r}.")
        if not isinstance(self.tolerance, (int, float)) or not (
                math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"'{self.text[:40]}': the tolerance must be a number ≥ 0, "
                             f"got {self.tolerance!r}.")

    def as_dict(self) -> dict:
        return {"kind": "number", "text": self.text, "answer": float(self.answer),
                "tolerance": float(self.tolerance), "explain": self.explain, "unit": self.unit}

    def answer_text(self) -> str:
        return f"{self.answer:g}" + (f" {self.unit}" if self.unit else "")


def _text(value, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a question's {what} must be non-empty text, got {value!r}.")


class Quiz(BookWidget):
    """A list of self-check questions with immediate feedback (see the module's docstring)."""

    _module = "quiz"
    questions = traitlets.List(traitlets.Dict()).tag(sync=True)
    title = traitlets.Unicode("Check yourself").tag(sync=True)

    def __init__(self, questions: Sequence[Choice | Number], title: str = "Check yourself"):
        if not questions:
            raise ValueError("a Quiz needs at least one question.")
        wrong = [q for q in questions if not isinstance(q, (Choice, Number))]
        if wrong:
            raise TypeError(f"questions must be Choice or Number, got {type(wrong[0]).__name__}.")
        self._questions = list(questions)
        super().__init__(questions=[q.as_dict() for q in questions], title=title)

    def fallback(self) -> str:
        items = []
        for question in self._questions:
            options = ""
            if isinstance(question, Choice):
                options = "<ol type='a'>" + "".join(
                    f"<li>{html.escape(o)}</li>" for o in question.options) + "</ol>"
            items.append(f"<li>{html.escape(question.text)}{options}</li>")
        answers = "".join(f"<li>{html.escape(q.answer_text())}: {html.escape(q.explain)}</li>"
                          for q in self._questions)
        return (f"<div class='mlbook-quiz-fallback'><p><strong>{html.escape(self.title)}"
                f"</strong></p><ol>{''.join(items)}</ol><p>Answers:</p><ol>{answers}</ol></div>")
