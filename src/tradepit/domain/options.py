# ruff: noqa: N803 -- S_or_F, K and T are the textbook names and the agreed signature.
"""European option prices, greeks and implied volatility, and the simulator's volatility surface.

Every function takes numpy arrays or scalars and broadcasts them together, so a whole option
chain is priced in one call. Two models share one core: Black-Scholes-Merton on a spot ``S``
with a continuous dividend yield or carry ``q`` (``model="bs"``), and Black-76 on a forward or
future ``F`` (``model="black76"``). Both are written as Black's formula on the forward
``F = S·exp((r - q)·T)`` discounted by ``D = exp(-r·T)``.

Units: ``T`` in years (ACT/365), ``r``, ``q`` and ``sigma`` as annual decimals (0.1 = 10 %).
Floats are fine here: these figures are analytics and never move money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import erfcx, ndtr, ndtri

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Model = Literal["bs", "black76"]

#: Calendar days per year: theta is quoted per calendar day.
DAYS_PER_YEAR = 365.0
#: One hour in years, the shortest expiry the simulator quotes and the tests exercise.
ONE_HOUR = 1.0 / (365.0 * 24.0)

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = math.sqrt(0.5)
#: Largest total volatility sigma·√T the solver looks at (sigma = 5000 % for a one-year option).
_MAX_TOTAL_VOL = 50.0
#: Newton steps smaller than this, relative to the total volatility, end the search.
_STEP_RTOL = 1e-11
#: Safeguarded Newton converges in under 10 steps on all tested inputs; bisection bounds the rest.
_MAX_ITERATIONS = 100
#: Relative rounding noise allowed in ln b, in units of the terms that make it up.
_NOISE = 16.0 * float(np.finfo(np.float64).eps)
#: A time value this close to zero (relative to the forward and strike) counts as zero.
_BOUND_RTOL = 8.0 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True, slots=True)
class Greeks:
    """The price of options and its sensitivities, one array element per option.

    ``delta`` is ∂V/∂S for ``model="bs"`` and ∂V/∂F for ``model="black76"``; ``gamma`` is the
    matching second derivative (per unit of the underlying, squared). ``theta`` is the change in
    value over one calendar day as time passes (-∂V/∂T ÷ 365, usually negative for a long
    option). ``vega`` is the change for one volatility point (∂V/∂sigma * 0.01) and ``rho`` the
    change for a one-percentage-point rise in ``r`` (∂V/∂r * 0.01); for Black-76 ``rho`` holds
    the forward fixed, so it is -T·V/100. ``price`` is the option value the greeks belong to.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray


def _check_model(model: str, q: FloatArray) -> bool:
    """Return True for Black-Scholes-Merton, False for Black-76; refuse anything else."""
    if model == "bs":
        return True
    if model == "black76":
        if np.any(q != 0.0):
            raise ValueError("q has no meaning for Black-76: the forward already carries it")
        return False
    raise ValueError(f"unknown model {model!r}; expected 'bs' or 'black76'")


def _as_float(value: npt.ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _full(value: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """Return ``value`` as a writable array of ``shape`` (copies only when it must broadcast)."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape == shape:
        return array
    return np.array(np.broadcast_to(array, shape), dtype=np.float64)


def _forward(
    underlying: FloatArray, t: FloatArray, r: FloatArray, q: FloatArray, is_bs: bool
) -> tuple[FloatArray, FloatArray]:
    """Return the forward and the discount factor for expiries ``t`` (already clamped at 0)."""
    discount = np.exp(-r * t)
    if is_bs:
        return underlying * np.exp((r - q) * t), discount
    return underlying, discount


@dataclass(frozen=True, slots=True)
class _Black:
    """Black's formula evaluated once, with the pieces the greeks reuse."""

    underlying: FloatArray
    forward: FloatArray
    discount: FloatArray
    t: FloatArray
    sigma: FloatArray
    sign: FloatArray  # +1 for calls, -1 for puts
    cdf1: FloatArray  # N(sign·d1); the indicator of moneyness when total volatility is 0
    pdf1: FloatArray  # n(d1); 0 when total volatility is 0
    value: FloatArray  # the discounted option value
    sqrt_t: FloatArray  # √T, 1 where T ≤ 0 (safe to divide by)
    total_vol: FloatArray  # sigma·√T, 1 where it is 0 (safe to divide by)
    expired: BoolArray | None  # T ≤ 0, or None when no option has expired


def _black(
    S_or_F: npt.ArrayLike,
    K: npt.ArrayLike,
    T: npt.ArrayLike,
    r: npt.ArrayLike,
    sigma: npt.ArrayLike,
    is_call: npt.ArrayLike,
    q: npt.ArrayLike,
    model: str,
) -> tuple[_Black, FloatArray, tuple[int, ...]]:
    underlying, strike, t_in, rate, vol_in = (_as_float(v) for v in (S_or_F, K, T, r, sigma))
    carry = _as_float(q)
    call = np.asarray(is_call, dtype=np.bool_)
    is_bs = _check_model(model, carry)
    shape = np.broadcast_shapes(
        underlying.shape,
        strike.shape,
        t_in.shape,
        rate.shape,
        vol_in.shape,
        carry.shape,
        call.shape,
    )
    t = np.maximum(t_in, 0.0)
    vol = np.maximum(vol_in, 0.0)
    forward, discount = _forward(underlying, t, rate, carry, is_bs)
    sign = np.where(call, 1.0, -1.0)
    sqrt_t = np.sqrt(t)
    total_vol = vol * sqrt_t
    degenerate = total_vol <= 0.0
    any_degenerate = bool(degenerate.any())
    if any_degenerate:
        total_vol = np.where(degenerate, 1.0, total_vol)
        sqrt_t = np.where(sqrt_t > 0.0, sqrt_t, 1.0)
    d1 = np.log(forward / strike)
    d1 /= total_vol
    d1 += 0.5 * total_vol
    cdf1 = ndtr(sign * d1)
    cdf2 = ndtr(sign * (d1 - total_vol))
    pdf1 = np.exp(-0.5 * d1 * d1)
    pdf1 *= _INV_SQRT_2PI
    expired: BoolArray | None = None
    if any_degenerate:
        # No volatility left: the option is worth its discounted forward intrinsic value.
        moneyness = 0.5 * (1.0 + np.sign(sign * (forward - strike)))
        cdf1 = np.where(degenerate, moneyness, cdf1)
        cdf2 = np.where(degenerate, moneyness, cdf2)
        pdf1 = np.where(degenerate, 0.0, pdf1)
        expired_mask = np.broadcast_to(t_in <= 0.0, shape)
        expired = expired_mask if bool(expired_mask.any()) else None
    value = forward * cdf1
    value -= strike * cdf2
    value *= sign
    value *= discount
    # Rounding can leave a far out-of-the-money value a hair below 0.
    value = np.maximum(value, 0.0)
    black = _Black(
        underlying=underlying,
        forward=forward,
        discount=discount,
        t=t,
        sigma=vol,
        sign=sign,
        cdf1=cdf1,
        pdf1=pdf1,
        value=_full(value, shape),
        sqrt_t=sqrt_t,
        total_vol=total_vol,
        expired=expired,
    )
    return black, rate, shape


def price(
    S_or_F: npt.ArrayLike,
    K: npt.ArrayLike,
    T: npt.ArrayLike,
    r: npt.ArrayLike,
    sigma: npt.ArrayLike,
    is_call: npt.ArrayLike,
    q: npt.ArrayLike = 0.0,
    model: Model = "bs",
) -> FloatArray:
    """Return the value of European options.

    ``S_or_F`` is the spot for ``model="bs"`` (with dividend yield or carry ``q``) and the
    forward or futures price for ``model="black76"`` (``q`` must be 0). ``T ≤ 0`` gives the
    intrinsic value; ``sigma ≤ 0`` gives the discounted intrinsic value of the forward.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        black, _, _ = _black(S_or_F, K, T, r, sigma, is_call, q, model)
    return black.value


def greeks(
    S_or_F: npt.ArrayLike,
    K: npt.ArrayLike,
    T: npt.ArrayLike,
    r: npt.ArrayLike,
    sigma: npt.ArrayLike,
    is_call: npt.ArrayLike,
    q: npt.ArrayLike = 0.0,
    model: Model = "bs",
) -> Greeks:
    """Return the price, delta, gamma, theta (per day), vega and rho (per point) of options.

    Arguments are those of :func:`price`; the units are described on :class:`Greeks`. Where no
    volatility is left (``T ≤ 0`` or ``sigma ≤ 0``) delta is the intrinsic step (½ at the money),
    gamma and vega are 0, and an expired option has no theta or rho.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        black, rate, shape = _black(S_or_F, K, T, r, sigma, is_call, q, model)
        is_bs = model == "bs"
        # D·F·n(d1), the common factor of gamma, vega and theta.
        dfn = black.discount * black.forward * black.pdf1
        # ∂(undiscounted Black)/∂F times D·F: the forward's share of the value.
        forward_delta = black.discount * black.forward * black.sign * black.cdf1
        delta = forward_delta / black.underlying
        gamma = dfn / (black.underlying * black.underlying * black.total_vol)
        vega = dfn * black.sqrt_t
        decay = dfn * black.sigma / (2.0 * black.sqrt_t)
        theta = rate * black.value - decay
        rho = -black.t * black.value
        if is_bs:
            carry = _as_float(q)
            theta -= (rate - carry) * forward_delta
            rho += black.t * forward_delta
        if black.expired is not None:
            theta = np.where(black.expired, 0.0, theta)
    return Greeks(
        price=black.value,
        delta=_full(delta, shape),
        gamma=_full(gamma, shape),
        theta=_full(theta / DAYS_PER_YEAR, shape),
        vega=_full(vega * 0.01, shape),
        rho=_full(rho * 0.01, shape),
    )


def _log_normalised_otm(
    x: FloatArray, s: FloatArray, log_beta: FloatArray, noise_floor: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ln b - log_beta, ∂(ln b)/∂s and the rounding noise of the first.

    ``b(x, s) = e^{x/2}·N(x/s + s/2) - e^{-x/2}·N(x/s - s/2)`` is the out-of-the-money Black
    price divided by ``D·√(F·K)``, for ``x = -|ln(F/K)|`` and total volatility ``s = sigma·√T``.
    Written with the scaled complementary error function, the common factor
    ``exp(-x²/2s² - s²/8)`` comes out analytically, so ln b never underflows, even where b does.
    The difference of the two erfcx terms cancels when s is small; the noise estimate says how
    close to 0 the gap can be pushed.
    """
    xs = x / s
    d1 = xs + 0.5 * s
    near = erfcx(-_INV_SQRT_2 * d1)
    spread = near - erfcx(-_INV_SQRT_2 * (d1 - s))
    gap = np.log(0.5 * spread) - 0.5 * xs * xs - 0.125 * s * s - log_beta
    return gap, _SQRT_2_OVER_PI / spread, _NOISE * near / spread + noise_floor


def _initial_total_vol(x: FloatArray, log_beta: FloatArray, noise_floor: FloatArray) -> FloatArray:
    """Return a starting total volatility for the search."""
    s_c = np.sqrt(-2.0 * x)
    gap_c, _, _ = _log_normalised_otm(x, np.where(s_c > 0.0, s_c, 1.0), log_beta, noise_floor)
    lower = (s_c > 0.0) & (gap_c > 0.0)
    # Upper guess: b ≈ e^{x/2} - (e^{x/2} + e^{-x/2})·N(-s/2), exact at the money.
    half = np.exp(0.5 * x)
    tail = (half - np.exp(log_beta)) / (half + 1.0 / half)
    s_upper = -2.0 * ndtri(np.clip(tail, 1e-300, 0.5))
    # b(s) ≤ s/√(2π) everywhere, so √(2π)·β is a lower bound, and a close one near the money.
    floor = _SQRT_2PI * np.exp(log_beta)
    s = np.where(lower, s_c, np.maximum(np.maximum(s_c, s_upper), floor))
    if lower.any():
        # Lower guess: far out of the money ln b ≈ -x²y/2 - 1.5·ln y - ln(√(2π)·x²) with
        # y = 1/s². That is concave in y; a few Newton steps from y = 1/s_c² (left of its
        # root) solve it.
        x2 = x * x
        c = -log_beta - np.log(_SQRT_2PI * x2)
        y = 1.0 / (s_c * s_c)
        for _ in range(3):
            y -= (0.5 * x2 * y + 1.5 * np.log(y) - c) / (0.5 * x2 + 1.5 / y)
        s = np.where(lower, np.maximum(np.minimum(s_c, 1.0 / np.sqrt(y)), floor), s)
    return np.minimum(s, _MAX_TOTAL_VOL)


def _solve_total_vol(x: FloatArray, log_beta: FloatArray) -> FloatArray:
    """Return s with ln b(x, s) = log_beta (1-D arrays) by safeguarded Newton; NaN on failure.

    ln b is concave and increasing in s. Below the inflection point s_c = √(2|x|) of b, the
    Newton step is taken in 1/s², where ln b is nearly linear (ln b ≈ -x²/2s²); above it in s.
    Both start from asymptotic guesses. A step that leaves the bracket kept from the signs seen
    so far is replaced by bisection. Finished elements leave the working set, so the late
    iterations only touch the few hard cases.
    """
    result = np.full(x.shape, np.nan)
    index = np.arange(x.size)
    noise_floor = _NOISE * (np.abs(log_beta) + 1.0)
    s = _initial_total_vol(x, log_beta, noise_floor)
    lo = np.zeros_like(s)
    hi = np.full_like(s, _MAX_TOTAL_VOL)
    for _ in range(_MAX_ITERATIONS):
        gap, slope, noise = _log_normalised_otm(x, s, log_beta, noise_floor)
        settled = np.abs(gap) <= noise  # as close as rounding allows: keep s
        lo = np.where(gap < 0.0, np.maximum(lo, s), lo)
        hi = np.where(gap > 0.0, np.minimum(hi, s), hi)
        ratio = gap / (slope * s)
        # Newton in y = 1/s²: y ← y + 2·gap/(slope·s³), i.e. s ← s / √(1 + 2·gap/(slope·s)).
        tail = x * x > s * s  # |d1| > 1 or so: far enough out for ln b ≈ -x²/2s²
        newton = s * np.where(tail, 1.0 / np.sqrt(1.0 + 2.0 * ratio), 1.0 - ratio)
        done = settled | (np.abs(newton - s) <= _STEP_RTOL * s)
        newton = np.where(settled, s, newton)
        accept = done | ((newton > lo) & (newton < hi))
        if accept.all():
            s = newton
        else:
            s = np.where(accept, newton, np.where(lo > 0.0, np.sqrt(lo * hi), 0.5 * hi))
        if done.any():
            result[index[done]] = s[done]
            keep = ~done
            if not keep.any():
                break
            index, noise_floor = index[keep], noise_floor[keep]
            x, log_beta, s, lo, hi = x[keep], log_beta[keep], s[keep], lo[keep], hi[keep]
    return result


def implied_vol(
    price: npt.ArrayLike,
    S_or_F: npt.ArrayLike,
    K: npt.ArrayLike,
    T: npt.ArrayLike,
    r: npt.ArrayLike,
    is_call: npt.ArrayLike,
    q: npt.ArrayLike = 0.0,
    model: Model = "bs",
) -> FloatArray:
    """Return the Black volatility that reproduces each option price; NaN where none does.

    Arguments are those of :func:`price`, with the option ``price`` instead of ``sigma``. The
    result is NaN for a price below the discounted intrinsic value or at or above the upper
    bound (``D·F`` for a call, ``D·K`` for a put), for ``T ≤ 0`` and for invalid inputs, and 0
    for a price equal to intrinsic value. In-the-money options are solved through their
    out-of-the-money twin by put-call parity. The result reprices the option to 1e-10
    relative or better.
    """
    call = np.asarray(is_call, dtype=np.bool_)
    values, underlying, strike, t, rate, carry, _ = np.broadcast_arrays(
        *(_as_float(v) for v in (price, S_or_F, K, T, r, q)), call
    )
    call = np.broadcast_to(call, values.shape)
    is_bs = _check_model(model, carry)
    result = np.full(values.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        forward, discount = _forward(underlying, t, rate, carry, is_bs)
        sign = np.where(call, 1.0, -1.0)
        intrinsic = discount * np.maximum(sign * (forward - strike), 0.0)
        # Put-call parity: the time value is the price of the out-of-the-money twin.
        time_value = values - intrinsic
        tolerance = _BOUND_RTOL * discount * np.maximum(forward, strike)
        x = -np.abs(np.log(forward / strike))
        beta = time_value / (discount * np.sqrt(forward * strike))
        usable = (
            np.isfinite(values)
            & np.isfinite(beta)
            & (t > 0.0)
            & (forward > 0.0)
            & (strike > 0.0)
            & (discount > 0.0)
            & (time_value >= -tolerance)
        )
        at_intrinsic = usable & (time_value <= 0.0)
        ceiling = discount * np.where(call, forward, strike)
        below_ceiling = (values < ceiling - tolerance) & (beta < np.exp(0.5 * x))
        solvable = usable & ~at_intrinsic & below_ceiling
        result[at_intrinsic] = 0.0
        if solvable.any():
            total = _solve_total_vol(x[solvable], np.log(beta[solvable]))
            result[solvable] = total / np.sqrt(t[solvable])
    return result


#: Default smile slope per standard deviation of moneyness: puts richer than calls.
DEFAULT_SKEW = -0.12
#: Default smile convexity: both wings rise, linearly far out.
DEFAULT_CURVATURE = 0.16
#: The smile never goes above this multiple of the at-the-money volatility.
DEFAULT_MAX_RATIO = 3.0
_MIN_RATIO = 0.25
#: One minute in years: standardised moneyness uses at least this much time.
_MIN_SMILE_T = 1.0 / (365.0 * 24.0 * 60.0)


def smile_vol(
    atm_vol: npt.ArrayLike,
    log_moneyness: npt.ArrayLike,
    T: npt.ArrayLike,
    skew: float = DEFAULT_SKEW,
    curvature: float = DEFAULT_CURVATURE,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> FloatArray:
    """Return an equity-index style volatility smile around ``atm_vol``.

    ``log_moneyness`` is ``ln(K/F)``. It is standardised as ``z = ln(K/F) / (atm_vol·√T)``, so
    the smile steepens in strike space as expiry nears, as index smiles do, and the volatility
    is ``atm_vol · (1 + skew·z + curvature·(√(1 + z²) - 1))``: ``skew`` is the slope at the money
    per standard deviation (negative makes low strikes, the puts, richer) and ``curvature`` the
    convexity, which makes both wings linear in z far out (put wing slope ``curvature - skew``,
    call wing ``curvature + skew``). The defaults give a one-month 25-delta risk reversal of
    about -2.4 and a butterfly of about +0.5 vol points at 15 % volatility. The multiple of
    ``atm_vol`` is kept within [0.25, ``max_ratio``].
    """
    atm = _as_float(atm_vol)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = _as_float(log_moneyness) / (atm * np.sqrt(np.maximum(_as_float(T), _MIN_SMILE_T)))
    z = np.nan_to_num(z, nan=0.0)
    ratio = 1.0 + skew * z + curvature * (np.sqrt(1.0 + z * z) - 1.0)
    return np.asarray(atm * np.clip(ratio, _MIN_RATIO, max_ratio), dtype=np.float64)


#: Default ratio of the shortest-dated to the long-run at-the-money volatility (calm markets:
#: a gently rising term structure).
DEFAULT_SHORT_RATIO = 0.9
#: Default half-life, in years, of the short-dated volatility's pull towards the long run.
DEFAULT_HALF_LIFE = 0.25


def term_vol(
    base: npt.ArrayLike,
    T: npt.ArrayLike,
    short_ratio: float = DEFAULT_SHORT_RATIO,
    half_life: float = DEFAULT_HALF_LIFE,
) -> FloatArray:
    """Return the at-the-money volatility for expiry ``T`` on a mean-reverting term structure.

    ``base`` is the long-run volatility. The instantaneous variance starts at
    ``(short_ratio·base)²`` and decays to ``base²`` with ``half_life`` (years), and the result is
    the square root of its average over ``[0, T]``: ``short_ratio·base`` at ``T = 0``, ``base``
    as ``T → ∞``. ``short_ratio < 1`` gives an upward (calm) curve, ``> 1`` an inverted
    (stressed) one.
    """
    if half_life <= 0.0 or short_ratio <= 0.0:
        raise ValueError("half_life and short_ratio must be positive")
    long_run = _as_float(base)
    kt = math.log(2.0) / half_life * np.maximum(_as_float(T), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(kt > 0.0, -np.expm1(-kt) / kt, 1.0)
    variance = 1.0 + (short_ratio * short_ratio - 1.0) * weight
    return np.asarray(long_run * np.sqrt(variance), dtype=np.float64)
