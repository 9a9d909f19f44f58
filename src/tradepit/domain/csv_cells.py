"""CSV that is safe to open in a spreadsheet, and strict reading of CSV files.

Writing (OWASP's CSV injection guidance): a spreadsheet runs a cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return as a formula, so a *text* cell that starts with
one of them gets a single quote in front (``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``), and every
text cell is quoted, so a spreadsheet that splits on ``;`` or a cell holding a line break
cannot move a formula to the start of another cell. Numbers (``int``, ``float``,
``Decimal``) are written bare: ``-12.5`` stays the number -12.5, it is not text a user typed.
A text cell that starts with a quote gets one more, so that the mark can be taken off again:
``restore`` removes one leading quote when the next character is one of these six or a
quote, and ``restore(neutralise(text)) == text`` for every text.

Reading: the csv module with a strict dialect (an unterminated quote or a quote in the
middle of a quoted cell is an error, not a guess), a header without empty or repeated names,
and every record exactly as many cells as the header. A malformed file raises ``Malformed``
with the line (counted from 1, the header's) where each problem starts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradepit.domain.errors import InvalidInput

#: What a spreadsheet takes for the start of a formula (OWASP).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: The mark put in front of such a cell.
MARK = "'"


def neutralise(text: str) -> str:
    """Return ``text`` as a cell no spreadsheet runs: a quote in front of a formula's start
    (or of a quote, so that ``restore`` can tell the mark from the text)."""
    return MARK + text if text.startswith((*TRIGGERS, MARK)) else text


def restore(text: str) -> str:
    """Undo ``neutralise``: drop one leading quote in front of a formula's start or a quote."""
    return text[1:] if text.startswith(MARK) and text[1:2] in (*TRIGGERS, MARK) else text


def cell(value: object) -> object:
    """Return ``value`` as the writer should get it: numbers as they are (written bare),
    ``None`` as an empty cell, anything else as neutralised text (written quoted)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    return "" if value is None else neutralise(str(value))


def write(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """Return the header and the rows as CSV text (``\\n`` line ends), cells made safe."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(columns)
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([cell(row.get(name)) for name in columns])
    return out.getvalue()


class Strict(csv.Dialect):
    """Comma-separated, double quotes doubled inside quoted cells, nothing guessed."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    escapechar = None
    skipinitialspace = False
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


@dataclass(frozen=True)
class Problem:
    """What is wrong where: ``line`` of the file (1 is the header), ``row`` the record after
    the header (0 for the header or the file itself)."""

    row: int
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class Malformed(InvalidInput):
    """The file is not well-formed CSV; ``problems`` says where and why."""

    code = "MALFORMED_CSV"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Record:
    """One record after the header: its number (from 1), its first line, its cells by column."""

    row: int
    line: int
    values: dict[str, str]


#: Most problems reported for one file (the first ones).
MAX_PROBLEMS = 20


def _reason(exc: csv.Error) -> str:
    message = str(exc)
    if message == "unexpected end of data":
        return "unterminated quoted field"
    return message


def _cells(count: int) -> str:
    return f"{count} cell{'s' if count != 1 else ''}"


def read(text: str, max_rows: int) -> tuple[list[str], list[Record]]:
    """Return the header and up to ``max_rows + 1`` records of ``text`` (the caller refuses
    the extra one), or raise ``Malformed``. Blank lines are skipped; a leading byte order
    mark is dropped; ``restore`` is the caller's to apply."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), Strict)
    problems: list[Problem] = []
    header: list[str] | None = None
    records: list[Record] = []
    while len(problems) < MAX_PROBLEMS and len(records) <= max_rows:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(len(records) + 1 if header else 0, line, _reason(exc)))
            break
        if header is None:
            header = cells
            problems += _header_problems(header)
            if problems:
                break
            continue
        if not cells:
            continue
        row = len(records) + 1
        if len(cells) != len(header):
            problems.append(
                Problem(row, line, f"{_cells(len(cells))} where the header has {len(header)}")
            )
        records.append(Record(row, line, dict(zip(header, cells, strict=False))))
    if header is None and not problems:
        problems.append(Problem(0, 1, "the file is empty"))
    if problems:
        raise Malformed(problems)
    assert header is not None
    return header, records


def _header_problems(header: list[str]) -> list[Problem]:
    if not header:
        return [Problem(0, 1, "the header is empty")]
    found: list[Problem] = []
    seen: set[str] = set()
    for number, name in enumerate(header, start=1):
        if not name:
            found.append(Problem(0, 1, f"column {number} has no name"))
        elif name in seen:
            found.append(Problem(0, 1, f"column {name!r} appears twice"))
        seen.add(name)
    return found
