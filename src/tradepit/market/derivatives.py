"""Futures and options as tradable instruments: symbols resolved to contracts, and their quotes.

A trading symbol as ``domain.instruments.derivative_symbol`` spells it (``NIFTY26DECFUT``,
``NIFTY26DEC26000CE``, weekly ``NIFTY2612226000CE``) resolves to an ``Instrument`` of kind FUTURE
or OPTION on the underlying's derivatives venue (NFO, BFO): the underlying's lot size and
currency, the option tick (0.05) or the underlying's tick for a future, multiplier 1, and the
catalogue's margin rate for the kind. The expiry comes from the underlying's expiry rule and the
venue's calendar (a monthly symbol names the month, its day is the rule's last weekday, moved
back over holidays; a weekly symbol names the day, which must be an expiry).

Quotes. An option is priced from the option chain model (``chains``): the chain's figures when
the expiry is listed and the strike is among the chain's strikes (live quotes included on a feed
that has them), else the same Black-Scholes-on-a-smile model for that one strike. A future is
quoted at its fair value ``S·exp((r - q)·T)`` on the chain's rate and dividend yield, one tick
either side. At and after the expiry's close both are worth their settlement value.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from tradepit.domain import options
from tradepit.domain.instruments import (
    Instrument,
    Kind,
    Right,
    UnknownSymbol,
    derivative_symbol,
    intrinsic_value,
    parse_derivative_symbol,
)
from tradepit.domain.market import Tick
from tradepit.domain.sessions import TradingCalendar, expiries, monthly_expiries, venue_zone
from tradepit.market.catalogue import Catalogue
from tradepit.market.chains import (
    DIVIDEND_YIELD,
    EXPIRY_TIME,
    OPTION_TICK,
    RISK_FREE,
    Chain,
    years_to_expiry,
)

#: How many lots each side of a derivative's quote shows.
QUOTE_LOTS = 50
#: Futures series listed: three serial months.
LISTED_FUTURES = 3


def resolve(catalogue: Catalogue, calendar: TradingCalendar, symbol: str) -> Instrument | None:
    """Return the future or option ``symbol`` names, or None if it does not look like one.

    A symbol that looks like one but names no contract (unknown underlying, a day that is not
    an expiry, a strike off the grid) is refused with ``UnknownSymbol`` saying why.
    """
    parsed = parse_derivative_symbol(symbol)
    if parsed is None or parsed.underlying not in catalogue:
        return None
    underlying = catalogue.get(parsed.underlying)
    rule, venue = underlying.expiry_rule, underlying.derivatives_venue
    if rule is None or venue is None or underlying.strike_step is None:
        raise UnknownSymbol(f"unknown symbol '{symbol}': {underlying.symbol} has no derivatives")
    days = calendar.venue(venue)
    if parsed.day is None:
        expiry = monthly_expiries(rule, date(parsed.year, parsed.month, 1), days, 1)[0].date
        monthly = True
    else:
        try:
            named = date(parsed.year, parsed.month, parsed.day)
        except ValueError:
            raise UnknownSymbol(f"unknown symbol '{symbol}': no such date") from None
        found = expiries(rule, named, days, 1)[0]
        if found.date != named:
            raise UnknownSymbol(
                f"unknown symbol '{symbol}': {underlying.symbol} has no expiry on {named}"
            )
        expiry, monthly = named, found.monthly
    margin = catalogue.margins.get((Kind.FUTURE if parsed.is_future else Kind.OPTION).value)
    if parsed.is_future:
        return Instrument(
            symbol=derivative_symbol(underlying.symbol, expiry, monthly=True),
            name=f"{underlying.name} {expiry:%d %b %Y} future",
            kind=Kind.FUTURE,
            venue=venue,
            currency=underlying.currency,
            tick_size=underlying.tick_size,
            lot_size=underlying.lot_size,
            price=underlying.price,
            short_margin=margin,
            underlying=underlying.symbol,
            expiry=expiry,
        )
    strike, right = parsed.strike, parsed.right
    assert strike is not None and right is not None
    if strike <= 0 or strike % underlying.strike_step != 0:
        raise UnknownSymbol(
            f"unknown symbol '{symbol}': strike {strike} is not a positive multiple of "
            f"{underlying.strike_step}"
        )
    return Instrument(
        symbol=derivative_symbol(
            underlying.symbol, expiry, monthly=monthly, strike=strike.normalize(), right=right
        ),
        name=f"{underlying.name} {expiry:%d %b %Y} {strike.normalize():f} {right.value}",
        kind=Kind.OPTION,
        venue=venue,
        currency=underlying.currency,
        tick_size=Decimal(str(OPTION_TICK)),
        lot_size=underlying.lot_size,
        price=underlying.price,
        short_margin=margin,
        underlying=underlying.symbol,
        expiry=expiry,
        strike=strike.normalize(),
        right=right,
    )


def expiry_close(instrument: Instrument) -> datetime:
    """Return the instant a derivative expires: its expiry day's close (15:30 IST)."""
    assert instrument.expiry is not None
    return datetime.combine(instrument.expiry, EXPIRY_TIME, venue_zone(instrument.venue))


def listed_futures(underlying: Instrument, calendar: TradingCalendar, start: date) -> list[date]:
    """Return the expiries of the futures series listed from ``start``."""
    assert underlying.expiry_rule is not None and underlying.derivatives_venue is not None
    days = calendar.venue(underlying.derivatives_venue)
    return [e.date for e in monthly_expiries(underlying.expiry_rule, start, days, LISTED_FUTURES)]


def settlement_price(instrument: Instrument, final: Decimal) -> Decimal:
    """Return what a contract settles at given the underlying's final price: an option its
    intrinsic value, a future the final price itself."""
    if instrument.right is None:
        return final
    assert instrument.strike is not None
    return intrinsic_value(instrument.right, instrument.strike, final)


def _on_tick(value: float, tick: Decimal) -> Decimal:
    steps = round(value / float(tick)) if math.isfinite(value) else 0
    return Decimal(max(steps, 0)) * tick


def quote(
    instrument: Instrument,
    underlying: Instrument,
    spot: Tick,
    now: datetime,
    *,
    chain: Chain | None,
    atm_vol: float,
) -> Tick:
    """Return the quote of a future or option at ``now`` given the underlying's tick."""
    assert instrument.expiry is not None
    tick = instrument.tick_size
    s = float(spot.ltp)
    t = years_to_expiry(instrument.expiry, now, underlying)
    q = DIVIDEND_YIELD.get(underlying.kind, 0.0)
    size = instrument.lot_size * QUOTE_LOTS
    if instrument.right is None:
        fair = _on_tick(s * math.exp((RISK_FREE - q) * t), tick)
        if t <= 0:
            fair = spot.ltp
        bid, ask, ltp = max(fair - tick, tick), fair + tick, fair
    else:
        assert instrument.strike is not None
        strike = float(instrument.strike)
        is_call = instrument.right is Right.CE
        found = _from_chain(chain, strike, instrument.right) if t > 0 else None
        if found is not None:
            ltp, bid, ask = found
        else:
            if t <= 0:
                value = float(settlement_price(instrument, spot.ltp))
            else:
                forward = s * math.exp((RISK_FREE - q) * t)
                base = float(options.term_vol(atm_vol, t))
                iv = options.smile_vol(base, math.log(strike / forward), t)
                value = float(options.price(s, strike, t, RISK_FREE, iv, is_call, q=q))
            ltp = _on_tick(value, tick)
            spread = max(tick, _on_tick(float(ltp) * 0.004, tick))
            bid, ask = ltp - spread, ltp + spread
        # Nothing trades below one tick on NSE and BSE.
        ltp, bid = max(ltp, tick), max(bid, tick)
        ask = max(ask, bid + tick)
    return Tick(
        symbol=instrument.symbol,
        ts=now,
        ltp=ltp,
        bid=bid,
        ask=ask,
        bid_size=size,
        ask_size=size,
        volume=Decimal(0),
    )


def _from_chain(
    chain: Chain | None, strike: float, right: Right
) -> tuple[Decimal, Decimal, Decimal] | None:
    if chain is None:
        return None
    matches = np.flatnonzero(np.isclose(chain.strikes, strike, rtol=0, atol=1e-6))
    if matches.size == 0:
        return None
    i = int(matches[0])
    side = chain.calls if right is Right.CE else chain.puts
    tick = Decimal(str(OPTION_TICK))
    return _on_tick(side.ltp[i], tick), _on_tick(side.bid[i], tick), _on_tick(side.ask[i], tick)
