"""Load the instrument catalogue (``catalogue.toml``) and look instruments up."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradepit.domain.instruments import Instrument, Kind, UnknownSymbol, Venue

DEFAULT_PATH = Path(__file__).with_name("catalogue.toml")
#: How many close matches an unknown symbol's refusal suggests, and how alike they must be
#: (``difflib``'s ratio, 0 to 1).
SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.6
#: Text longer than this gets no suggestions (no symbol or name is this long).
SUGGEST_MAX_LENGTH = 64


def _decimal(row: dict[str, Any], key: str, default: str | None = None) -> Decimal | None:
    value = row.get(key, default)
    return None if value is None else Decimal(str(value))


def _instrument(row: dict[str, Any], margins: dict[str, Any]) -> Instrument:
    def required(key: str, default: str) -> Decimal:
        value = _decimal(row, key, default)
        assert value is not None
        return value

    _check_quote_currency(row, margins)
    return Instrument(
        symbol=row["symbol"],
        name=row["name"],
        kind=Kind(row["kind"]),
        venue=Venue(row["venue"]),
        currency=row["currency"],
        tick_size=required("tick_size", "0.01"),
        lot_size=required("lot_size", "1"),
        multiplier=required("multiplier", "1"),
        price=required("price", "100"),
        strike_step=_decimal(row, "strike_step"),
        aliases=tuple(row.get("aliases", ())),
        expiry_rule=row.get("expiry"),
        derivatives_venue=Venue(row["derivatives_venue"]) if "derivatives_venue" in row else None,
        volatility=float(row.get("volatility", 0.2)),
        index=row.get("index"),
        beta=float(row.get("beta", 1.0)),
        short_margin=Decimal(margins[row["kind"]]) if row["kind"] in margins else None,
        kite_token=int(row["kite_token"]) if "kite_token" in row else None,
        quote_currency=row.get("quote_currency"),
    )


def _check_quote_currency(row: dict[str, Any], margins: dict[str, Any]) -> None:
    """Refuse a ``quote_currency`` on anything but a margined forex pair whose symbol is its
    base (``currency``) then its quote currency: only there is P&L in the quote currency
    converted into the base at the pair's own price."""
    quote = row.get("quote_currency")
    if quote is None or quote == row["currency"]:
        return
    symbol, base = row["symbol"], row["currency"]
    if row["kind"] != Kind.FOREX.value or Kind.FOREX.value not in margins:
        raise ValueError(f"{symbol}: quote_currency is for margined FOREX pairs only")
    if symbol != f"{base}{quote}":
        raise ValueError(
            f"{symbol}: a pair settled in {base} and quoted in {quote} must be named {base}{quote}"
        )


class Catalogue:
    """The instruments the server knows, by symbol or alias (case-insensitive)."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        margins: dict[str, Decimal] | None = None,
        constituents: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        #: The ``[margin]`` table: margin rate per instrument kind (futures and options too).
        self.margins: dict[str, Decimal] = dict(margins or {})
        self._by_symbol: dict[str, Instrument] = {}
        self._by_name: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.symbol in self._by_symbol:
                raise ValueError(f"duplicate symbol {instrument.symbol}")
            self._by_symbol[instrument.symbol] = instrument
            for name in (instrument.symbol, *instrument.aliases):
                self._by_name[name.upper()] = instrument
        # What an unknown symbol is compared with for suggestions: symbols, aliases and names
        # (a name is suggested from, never resolved).
        self._spellings: dict[str, str] = {k: i.symbol for k, i in self._by_name.items()}
        for instrument in self._by_symbol.values():
            self._spellings.setdefault(instrument.name.upper(), instrument.symbol)
        self._constituents: dict[str, tuple[str, ...]] = {}
        for index, members in (constituents or {}).items():
            self._constituents[index] = self._members(index, members)

    def _members(self, index: str, members: Sequence[str]) -> tuple[str, ...]:
        """Return the symbols of ``index``'s constituents, refusing unknown or repeated ones."""
        owner = self._by_symbol.get(index)
        if owner is None or owner.kind is not Kind.INDEX:
            raise ValueError(f"constituents listed for {index}, which is not an index here")
        symbols: list[str] = []
        for member in members:
            found = self._by_name.get(member.strip().upper())
            if found is None:
                raise ValueError(f"{index} lists unknown constituent {member!r}")
            if found.symbol in symbols:
                raise ValueError(f"{index} lists {found.symbol} twice")
            symbols.append(found.symbol)
        return tuple(symbols)

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Catalogue:
        """Read a catalogue file."""
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        margins = document.get("margin", {})
        rows = document["instrument"]
        return cls(
            (_instrument(row, margins) for row in rows),
            {kind: Decimal(str(rate)) for kind, rate in margins.items()},
            {row["symbol"]: row["constituents"] for row in rows if "constituents" in row},
        )

    def get(self, symbol: str) -> Instrument:
        """Return the instrument named ``symbol`` (or one of its aliases), in any case; refuse
        an unknown one with ``UnknownSymbol``, suggesting close matches (``suggest``)."""
        found = self._by_name.get(symbol.strip().upper())
        if found is None:
            close = self.suggest(symbol)
            hint = f"; did you mean {_either(close)}?" if close else ""
            raise UnknownSymbol(f"unknown symbol '{symbol}'{hint}")
        return found

    def suggest(self, text: str) -> list[str]:
        """Return the symbols (up to ``SUGGESTIONS``, closest first) whose symbol, alias or
        name is close to ``text``, case-insensitively; only the one named exactly, when a
        name is (names are suggested, not resolved)."""
        key = text.strip().upper()
        if not key or len(key) > SUGGEST_MAX_LENGTH:
            return []
        if key in self._spellings:
            return [self._spellings[key]]
        close = difflib.get_close_matches(
            key, self._spellings, n=len(self._spellings), cutoff=SUGGESTION_CUTOFF
        )
        symbols = list(dict.fromkeys(self._spellings[name] for name in close))
        return symbols[:SUGGESTIONS]

    def __contains__(self, symbol: str) -> bool:
        return symbol.strip().upper() in self._by_name

    def __iter__(self) -> Any:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def select(self, kind: Kind | None = None, venue: Venue | None = None) -> list[Instrument]:
        """Return the instruments of a kind and/or venue, in catalogue order."""
        return [
            i
            for i in self._by_symbol.values()
            if (kind is None or i.kind is kind) and (venue is None or i.venue is venue)
        ]

    def with_options(self) -> list[Instrument]:
        """Return the underlyings that have listed options."""
        return [i for i in self._by_symbol.values() if i.has_options]

    def constituents(self, index: str) -> list[Instrument]:
        """Return the constituents of the index ``index`` (symbol or alias) as the catalogue's
        ``constituents`` list gives them, in its order; empty when it lists none."""
        return [self._by_symbol[s] for s in self._constituents.get(self.get(index).symbol, ())]


def _either(symbols: list[str]) -> str:
    """Return ``A``, ``A or B``, ``A, B or C``."""
    return symbols[0] if len(symbols) == 1 else f"{', '.join(symbols[:-1])} or {symbols[-1]}"
