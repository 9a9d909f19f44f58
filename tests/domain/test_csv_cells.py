"""Spreadsheet-safe CSV: formula cells neutralised, numbers bare, the mark undone on reading,
and a strict reader that names the line of each problem."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.csv_cells import Malformed, cell, neutralise, read, restore, write

COLUMNS = ["name", "pnl"]


class TestNeutralise:
    @pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "'"])
    def test_formula_starts_and_quotes_get_a_quote(self, text: str) -> None:
        assert neutralise(text) == "'" + text

    @pytest.mark.parametrize("text", ["", "plain", "1-1", " =x", "••••1234"])
    def test_other_text_is_kept(self, text: str) -> None:
        assert neutralise(text) == text

    @given(st.text())
    def test_restore_undoes_it(self, text: str) -> None:
        assert restore(neutralise(text)) == text

    def test_numbers_stay_numbers(self) -> None:
        assert cell(Decimal("-12.5")) == Decimal("-12.5")
        assert cell(-12.5) == -12.5
        assert cell(None) == ""
        assert cell(True) == "True"
        assert cell("-12.5") == "'-12.5"  # text that looks like a number is still text


class TestWriteThenRead:
    def test_text_is_quoted_and_numbers_bare(self) -> None:
        text = write(COLUMNS, [{"name": "=HYPERLINK(1)", "pnl": -12.5}])
        assert text == 'name,pnl\n"\'=HYPERLINK(1)",-12.5\n'

    @given(st.lists(st.text(st.characters(exclude_characters="\x00")), max_size=5))
    def test_any_text_round_trips(self, names: list[str]) -> None:
        text = write(COLUMNS, [{"name": n, "pnl": 1} for n in names])
        header, records = read(text, 10)
        assert header == COLUMNS
        assert [restore(r.values["name"]) for r in records] == names
        assert all(r.values["pnl"] == "1" for r in records)


class TestRead:
    @pytest.mark.parametrize(
        ("text", "problems"),
        [
            ("", ["line 1: the file is empty"]),
            ("\n", ["line 1: the header is empty"]),
            ("a,,b\n", ["line 1: column 2 has no name"]),
            ('a\n"x\n\n\n', ["line 2: unterminated quoted field"]),
            ("a,b\n1\n1,2,3\n", ["line 2: 1 cell where the header has 2",
                                 "line 3: 3 cells where the header has 2"]),
        ],
    )  # fmt: skip
    def test_malformed(self, text: str, problems: list[str]) -> None:
        with pytest.raises(Malformed) as caught:
            read(text, 10)
        assert [str(p) for p in caught.value.problems] == problems

    def test_lines_count_from_the_header_across_quoted_line_breaks(self) -> None:
        _, records = read('a,b\n"x\ny",1\n\n2,3\n', 10)
        assert [(r.row, r.line) for r in records] == [(1, 2), (2, 5)]

    def test_reads_one_record_past_the_limit(self) -> None:
        _, records = read("a\n1\n2\n3\n4\n", 2)
        assert len(records) == 3
