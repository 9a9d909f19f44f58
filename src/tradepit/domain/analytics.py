"""Option-chain analytics: put-call ratios, max pain, open-interest levels, build-up, labels.

Every function takes the arrays of one chain (one underlying, one expiry), one element per
strike, CE and PE side by side. Figures are floats: they are analytics and never move money.
Missing values (NaN) in open interest or volume count as zero; a figure that the data cannot
support (a ratio over a zero total, a level of an empty chain) is ``None``, never a guess.
Where two strikes tie, the lower strike wins, so the result does not depend on input order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]

LONG_BUILDUP = "long_buildup"
SHORT_BUILDUP = "short_buildup"
SHORT_COVERING = "short_covering"
LONG_UNWINDING = "long_unwinding"
NEUTRAL = "neutral"
#: Every build-up class :func:`buildup` returns.
BUILDUP_CLASSES = (LONG_BUILDUP, SHORT_BUILDUP, SHORT_COVERING, LONG_UNWINDING, NEUTRAL)


def _column(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _columns(strikes: npt.ArrayLike, **columns: npt.ArrayLike) -> list[FloatArray]:
    """Return strikes and the named per-strike columns as float arrays of one length."""
    strike = _column(strikes, "strikes")
    if not np.isfinite(strike).all():
        raise ValueError("strikes must be finite")
    result = [strike]
    for name, values in columns.items():
        column = _column(values, name)
        if column.shape != strike.shape:
            raise ValueError(f"{name} has {column.size} values for {strike.size} strikes")
        result.append(column)
    return result


def _lowest_strike_where(strikes: FloatArray, mask: npt.NDArray[np.bool_]) -> float:
    return float(strikes[mask].min())


def _total(values: FloatArray) -> float:
    return float(np.nansum(values))


def put_call_ratio(ce: npt.ArrayLike, pe: npt.ArrayLike) -> float | None:
    """Return total PE over total CE (open interest or volume); None when the CE total is 0."""
    ce_total = _total(_column(ce, "ce"))
    pe_total = _total(_column(pe, "pe"))
    if ce_total <= 0.0:
        return None
    return pe_total / ce_total


def max_pain(strikes: npt.ArrayLike, ce_oi: npt.ArrayLike, pe_oi: npt.ArrayLike) -> float | None:
    """Return the listed strike at which option holders would be paid the least at expiry.

    For each candidate settlement price P (every listed strike) the payout is
    ``sum(ce_oi·max(P - K, 0)) + sum(pe_oi·max(K - P, 0))``. All candidates are evaluated at
    once from prefix sums over the sorted strikes, in O(n log n). None when the chain has no
    open interest.
    """
    strike, ce, pe = _columns(strikes, ce_oi=ce_oi, pe_oi=pe_oi)
    ce = np.nan_to_num(ce, nan=0.0)
    pe = np.nan_to_num(pe, nan=0.0)
    if strike.size == 0 or not (ce.any() or pe.any()):
        return None
    order = np.argsort(strike, kind="stable")
    k, ce, pe = strike[order], ce[order], pe[order]
    # Calls struck at or below P pay P·Σce - Σce·K; puts struck at or above P pay Σpe·K - P·Σpe.
    # A strike equal to P pays nothing on either side, so inclusive sums are right.
    calls = k * np.cumsum(ce) - np.cumsum(ce * k)
    puts = np.cumsum((pe * k)[::-1])[::-1] - k * np.cumsum(pe[::-1])[::-1]
    payout = calls + puts
    return _lowest_strike_where(k, payout == payout.min())


def _strike_of_most(strikes: npt.ArrayLike, oi: npt.ArrayLike) -> float | None:
    strike, interest = _columns(strikes, oi=oi)
    interest = np.nan_to_num(interest, nan=0.0)
    if strike.size == 0 or interest.max() <= 0.0:
        return None
    return _lowest_strike_where(strike, interest == interest.max())


def support(strikes: npt.ArrayLike, pe_oi: npt.ArrayLike) -> float | None:
    """Return the strike with the most PE open interest; None when there is none."""
    return _strike_of_most(strikes, pe_oi)


def resistance(strikes: npt.ArrayLike, ce_oi: npt.ArrayLike) -> float | None:
    """Return the strike with the most CE open interest; None when there is none."""
    return _strike_of_most(strikes, ce_oi)


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """Open interest summed over a chain, and its change since the previous session."""

    total_ce: float
    total_pe: float
    change_ce: float
    change_pe: float


def open_interest(
    ce_oi: npt.ArrayLike,
    pe_oi: npt.ArrayLike,
    ce_oi_change: npt.ArrayLike,
    pe_oi_change: npt.ArrayLike,
) -> OpenInterest:
    """Return the total CE and PE open interest and their total change."""
    return OpenInterest(
        total_ce=_total(_column(ce_oi, "ce_oi")),
        total_pe=_total(_column(pe_oi, "pe_oi")),
        change_ce=_total(_column(ce_oi_change, "ce_oi_change")),
        change_pe=_total(_column(pe_oi_change, "pe_oi_change")),
    )


def buildup(price_change: npt.ArrayLike, oi_change: npt.ArrayLike) -> StrArray:
    """Classify each strike of one side from its price change and open-interest change.

    Price up and OI up is ``long_buildup``, price down and OI up ``short_buildup``, price up
    and OI down ``short_covering``, price down and OI down ``long_unwinding``; anything else
    (no change, or a missing value) is ``neutral``.
    """
    price = np.asarray(price_change, dtype=np.float64)
    oi = np.asarray(oi_change, dtype=np.float64)
    up, down = price > 0.0, price < 0.0
    added, shed = oi > 0.0, oi < 0.0
    return np.select(
        [up & added, down & added, up & shed, down & shed],
        [LONG_BUILDUP, SHORT_BUILDUP, SHORT_COVERING, LONG_UNWINDING],
        default=NEUTRAL,
    ).astype(np.str_)


def _check_spot(spot: float) -> float:
    value = float(spot)
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"spot must be a positive number, got {spot!r}")
    return value


def atm_strike(strikes: npt.ArrayLike, spot: float) -> float:
    """Return the listed strike nearest to ``spot`` (the lower one when spot is midway)."""
    (strike,) = _columns(strikes)
    if strike.size == 0:
        raise ValueError("the chain has no strikes")
    distance = np.abs(strike - _check_spot(spot))
    return _lowest_strike_where(strike, distance == distance.min())


@dataclass(frozen=True, slots=True)
class ExpectedMove:
    """The move priced by the at-the-money straddle: ``move`` in points, ``percent`` of spot."""

    strike: float
    move: float
    percent: float


def expected_move(
    strikes: npt.ArrayLike, ce_ltp: npt.ArrayLike, pe_ltp: npt.ArrayLike, spot: float
) -> ExpectedMove | None:
    """Return the expected move to expiry from the straddle at the strike nearest spot.

    ``move`` is CE + PE last traded price at that strike; None when either is missing.
    """
    strike, ce, pe = _columns(strikes, ce_ltp=ce_ltp, pe_ltp=pe_ltp)
    value = _check_spot(spot)
    atm = atm_strike(strike, value)
    at = np.flatnonzero(strike == atm)[0]
    move = float(ce[at] + pe[at])
    if not np.isfinite(move):
        return None
    return ExpectedMove(strike=atm, move=move, percent=move / value * 100.0)


def moneyness_labels(strikes: npt.ArrayLike, spot: float, step: float) -> tuple[StrArray, StrArray]:
    """Return the moneyness label of each strike for calls and for puts.

    The strike nearest spot is ``ATM``; a strike n steps of ``step`` below it is ``ITMn`` for
    calls and ``OTMn`` for puts, n steps above it ``OTMn`` for calls and ``ITMn`` for puts.
    Off-grid strikes round to the nearest step, and are at least one step away.
    """
    if not (np.isfinite(step) and step > 0.0):
        raise ValueError(f"step must be positive, got {step!r}")
    (strike,) = _columns(strikes)
    if strike.size == 0:
        empty = np.array([], dtype=np.str_)
        return empty, empty.copy()
    atm = atm_strike(strike, spot)
    steps = np.maximum(np.rint(np.abs(strike - atm) / step), 1).astype(np.int64)
    level = steps.astype(np.str_)
    itm = np.strings.add("ITM", level)
    otm = np.strings.add("OTM", level)
    below, above = strike < atm, strike > atm
    calls = np.where(below, itm, np.where(above, otm, "ATM")).astype(np.str_)
    puts = np.where(below, otm, np.where(above, itm, "ATM")).astype(np.str_)
    return calls, puts


def iv_percentile(value: float, history: npt.ArrayLike) -> float | None:
    """Return the percentage of ``history`` strictly below ``value`` (0-100).

    Missing values in the history are dropped; None when nothing is left or ``value`` is
    missing.
    """
    past = np.asarray(history, dtype=np.float64).ravel()
    past = past[np.isfinite(past)]
    if past.size == 0 or not np.isfinite(value):
        return None
    return float(np.count_nonzero(past < value)) / past.size * 100.0


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """Every figure of the chain dashboard, computed from the same arrays."""

    pcr_oi: float | None
    pcr_volume: float | None
    max_pain: float | None
    open_interest: OpenInterest
    support: float | None
    resistance: float | None
    atm_strike: float
    expected_move: ExpectedMove | None
    ce_buildup: StrArray
    pe_buildup: StrArray


def summarise_chain(
    strikes: npt.ArrayLike,
    *,
    spot: float,
    ce_oi: npt.ArrayLike,
    pe_oi: npt.ArrayLike,
    ce_volume: npt.ArrayLike,
    pe_volume: npt.ArrayLike,
    ce_oi_change: npt.ArrayLike,
    pe_oi_change: npt.ArrayLike,
    ce_ltp: npt.ArrayLike,
    pe_ltp: npt.ArrayLike,
    ce_price_change: npt.ArrayLike,
    pe_price_change: npt.ArrayLike,
) -> ChainSummary:
    """Return every dashboard figure for one chain; see the functions above for each."""
    strike, ce, pe, ce_vol, pe_vol, ce_doi, pe_doi, ce_px, pe_px, ce_dpx, pe_dpx = _columns(
        strikes,
        ce_oi=ce_oi,
        pe_oi=pe_oi,
        ce_volume=ce_volume,
        pe_volume=pe_volume,
        ce_oi_change=ce_oi_change,
        pe_oi_change=pe_oi_change,
        ce_ltp=ce_ltp,
        pe_ltp=pe_ltp,
        ce_price_change=ce_price_change,
        pe_price_change=pe_price_change,
    )
    return ChainSummary(
        pcr_oi=put_call_ratio(ce, pe),
        pcr_volume=put_call_ratio(ce_vol, pe_vol),
        max_pain=max_pain(strike, ce, pe),
        open_interest=open_interest(ce, pe, ce_doi, pe_doi),
        support=support(strike, pe),
        resistance=resistance(strike, ce),
        atm_strike=atm_strike(strike, spot),
        expected_move=expected_move(strike, ce_px, pe_px, spot),
        ce_buildup=buildup(ce_dpx, ce_doi),
        pe_buildup=buildup(pe_dpx, pe_doi),
    )
