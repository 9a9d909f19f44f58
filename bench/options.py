"""Measure option pricing: a whole chain solved for IV with greeks, and greeks in bulk.

Run with ``python -m bench.options``. The baseline is the obvious scalar code: a Python loop
over options calling ``scipy.stats.norm.cdf``/``pdf`` for the same greeks. Each row's ratio is
its throughput (options per second) over the baseline's, so higher is better.

Targets: the 800-contract chain (IV solved, then every greek) under 1 ms median; greeks at
two million options per second or more on one core.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy.stats import norm

from tradepit.domain.options import greeks, implied_vol, price, smile_vol, term_vol

REPEATS = 9
CHAIN_STRIKES = 400
CHAIN_REPEATS = 201
BULK = 1_000_000
BASELINE = 2_000
SEED = 7


def median_seconds(func: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of ``func`` over ``repeats`` runs, after one warm-up."""
    func()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def scalar_greeks(
    s: float, k: float, t: float, r: float, q: float, sigma: float, call: bool
) -> tuple[float, float, float, float, float, float]:
    """Return price, delta, gamma, theta/day, vega/point, rho/point the textbook way."""
    sqrt_t = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    pdf = float(norm.pdf(d1))
    sign = 1.0 if call else -1.0
    n1 = float(norm.cdf(sign * d1))
    n2 = float(norm.cdf(sign * d2))
    value = sign * (s * dq * n1 - k * dr * n2)
    delta = sign * dq * n1
    gamma = dq * pdf / (s * sigma * sqrt_t)
    vega = s * dq * pdf * sqrt_t
    theta = -s * dq * pdf * sigma / (2 * sqrt_t) + sign * (q * s * dq * n1 - r * k * dr * n2)
    rho = sign * k * t * dr * n2
    return value, delta, gamma, theta / 365.0, vega / 100.0, rho / 100.0


def random_book(
    size: int, rng: np.random.Generator
) -> tuple[
    np.ndarray[tuple[int], np.dtype[np.float64]],
    np.ndarray[tuple[int], np.dtype[np.float64]],
    np.ndarray[tuple[int], np.dtype[np.float64]],
    np.ndarray[tuple[int], np.dtype[np.float64]],
    np.ndarray[tuple[int], np.dtype[np.bool_]],
]:
    """Return spots, strikes, expiries, vols and call flags for ``size`` unrelated options."""
    spot = rng.uniform(50.0, 150.0, size)
    strike = spot * np.exp(rng.uniform(-0.4, 0.4, size))
    expiry = rng.uniform(1 / 365, 2.0, size)
    sigma = rng.uniform(0.08, 0.8, size)
    call = rng.random(size) < 0.5
    return spot, strike, expiry, sigma, call


def run() -> list[tuple[str, float, float]]:
    """Return (name, median seconds, throughput over the scalar baseline) for each case."""
    rng = np.random.default_rng(SEED)
    r, q = 0.065, 0.012

    # Baseline: the scalar loop, on a few thousand options.
    spot, strike, expiry, sigma, call = random_book(BASELINE, rng)
    rows = list(zip(spot, strike, expiry, sigma, call, strict=True))

    def baseline() -> object:
        return [scalar_greeks(s, k, t, r, q, v, bool(c)) for s, k, t, v, c in rows]

    loop = np.array(baseline())
    vector = greeks(spot, strike, expiry, r, sigma, call, q)
    fields = (vector.price, vector.delta, vector.gamma, vector.theta, vector.vega, vector.rho)
    np.testing.assert_allclose(np.column_stack(fields), loop, rtol=1e-9, atol=1e-12)
    baseline_seconds = median_seconds(baseline, REPEATS)
    baseline_rate = BASELINE / baseline_seconds

    # (a) One chain: 400 strikes around spot, CE and PE, market prices off a smiled surface.
    index_spot, step, t = 24_000.0, 50.0, 7 / 365
    strikes = index_spot + step * (np.arange(CHAIN_STRIKES) - CHAIN_STRIKES // 2)
    chain_k = np.concatenate([strikes, strikes])
    chain_call = np.repeat([True, False], CHAIN_STRIKES)
    forward = index_spot * math.exp((r - q) * t)
    chain_vol = smile_vol(term_vol(0.14, t), np.log(chain_k / forward), t)
    ltp = price(index_spot, chain_k, t, r, chain_vol, chain_call, q)

    def chain() -> object:
        iv = implied_vol(ltp, index_spot, chain_k, t, r, chain_call, q)
        return greeks(index_spot, chain_k, t, r, iv, chain_call, q)

    solved = implied_vol(ltp, index_spot, chain_k, t, r, chain_call, q)
    # Far in the wings the time value is lost in the price's rounding: nothing to recover.
    intrinsic = math.exp(-r * t) * np.maximum(np.where(chain_call, 1, -1) * (forward - chain_k), 0)
    pinned = ltp - intrinsic > 1e-6 * index_spot
    np.testing.assert_allclose(solved[pinned], chain_vol[pinned], rtol=1e-6)
    chain_seconds = median_seconds(chain, CHAIN_REPEATS)

    # (b) Greeks for a million unrelated options.
    spot, strike, expiry, sigma, call = random_book(BULK, rng)

    def bulk() -> object:
        return greeks(spot, strike, expiry, r, sigma, call, q)

    bulk_seconds = median_seconds(bulk, REPEATS)

    chain_size = 2 * CHAIN_STRIKES
    return [
        (
            f"chain of {chain_size}: IV + greeks",
            chain_seconds,
            chain_size / chain_seconds / baseline_rate,
        ),
        (f"greeks, {BULK:,} options vectorised", bulk_seconds, BULK / bulk_seconds / baseline_rate),
        (f"greeks, {BASELINE:,} options scalar scipy.stats (baseline)", baseline_seconds, 1.0),
    ]


def main() -> None:
    """Print the table of medians, throughputs and ratios."""
    sizes = [2 * CHAIN_STRIKES, BULK, BASELINE]
    results = run()
    width = max(len(name) for name, _, _ in results)
    print("\nOption pricing, one core (ratio: options/s over the scalar baseline's)")
    print(f"{'case':<{width}}  {'median':>11}  {'options/s':>12}  {'ratio':>9}")
    for (name, seconds, ratio), size in zip(results, sizes, strict=True):
        median = f"{seconds * 1e3:.3f} ms"
        print(f"{name:<{width}}  {median:>11}  {size / seconds:>12,.0f}  {ratio:>8,.0f}×")
    chain_ms = results[0][1] * 1e3
    bulk_rate = sizes[1] / results[1][1]
    print(
        f"\ntargets: chain < 1 ms → {chain_ms:.3f} ms; "
        f"greeks ≥ 2,000,000 options/s → {bulk_rate:,.0f}"
    )


if __name__ == "__main__":
    main()
