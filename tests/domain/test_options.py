"""Option prices, greeks and implied volatility: textbook values, parity, derivatives, inversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tradepit.domain.options import (
    DAYS_PER_YEAR,
    ONE_HOUR,
    Greeks,
    Model,
    greeks,
    implied_vol,
    price,
    smile_vol,
    term_vol,
)

MODELS: tuple[Model, ...] = ("bs", "black76")

spots = st.floats(min_value=1.0, max_value=50_000.0)
log_moneyness = st.floats(min_value=-0.5, max_value=0.5)
vols = st.floats(min_value=0.05, max_value=1.5)
expiries = st.floats(min_value=ONE_HOUR, max_value=3.0)
rates = st.floats(min_value=-0.01, max_value=0.12)
yields = st.floats(min_value=0.0, max_value=0.06)
models = st.sampled_from(MODELS)


def black76_reference(f: float, k: float, t: float, r: float, sigma: float, call: bool) -> float:
    """Price with Black's formula written out with math.erf, independently of the module."""

    def cdf(z: float) -> float:
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    s = sigma * math.sqrt(t)
    d1 = (math.log(f / k) + 0.5 * s * s) / s
    d2 = d1 - s
    if call:
        return math.exp(-r * t) * (f * cdf(d1) - k * cdf(d2))
    return math.exp(-r * t) * (k * cdf(-d2) - f * cdf(-d1))


class TestPrice:
    def test_hull_black_scholes_example(self) -> None:
        # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10 %, sigma=20 %, T=6 months.
        assert round(float(price(42, 40, 0.5, 0.1, 0.2, True)), 2) == 4.76
        assert round(float(price(42, 40, 0.5, 0.1, 0.2, False)), 2) == 0.81

    def test_hull_index_option_with_dividend_yield(self) -> None:
        # Hull: a two-month index call, S=930, K=900, r=8 %, q=3 %, sigma=20 % → 51.83.
        assert round(float(price(930, 900, 2 / 12, 0.08, 0.2, True, q=0.03)), 2) == 51.83

    @pytest.mark.parametrize("call", [True, False])
    def test_black76_matches_the_formula_written_out(self, call: bool) -> None:
        # Hull's futures-option example (F=K=20, r=9 %, sigma=25 %, four months): the put is 1.12.
        expected = black76_reference(20.0, 20.0, 4 / 12, 0.09, 0.25, call)
        got = float(price(20, 20, 4 / 12, 0.09, 0.25, call, model="black76"))
        assert got == pytest.approx(expected, rel=1e-13)
        if not call:
            assert round(got, 2) == 1.12

    def test_black76_off_the_money_matches_the_formula(self) -> None:
        expected = black76_reference(24_150.0, 25_000.0, 0.1, 0.065, 0.18, True)
        got = price(24_150.0, 25_000.0, 0.1, 0.065, 0.18, True, model="black76")
        assert float(got) == pytest.approx(expected, rel=1e-12)

    def test_expired_options_are_worth_their_intrinsic_value(self) -> None:
        strikes = np.array([90.0, 100.0, 110.0])
        for t in (0.0, -0.01):
            assert price(100, strikes, t, 0.05, 0.2, True).tolist() == [10.0, 0.0, 0.0]
            assert price(100, strikes, t, 0.05, 0.2, False).tolist() == [0.0, 0.0, 10.0]

    def test_zero_volatility_gives_the_discounted_forward_intrinsic(self) -> None:
        s, k, t, r, q = 100.0, 100.0, 0.5, 0.08, 0.02
        forward, discount = s * math.exp((r - q) * t), math.exp(-r * t)
        assert float(price(s, k, t, r, 0.0, True, q)) == pytest.approx(discount * (forward - k))
        assert float(price(s, k, t, r, -0.1, False, q)) == 0.0
        assert float(price(s, 110.0, t, r, 0.0, False, q)) == pytest.approx(
            discount * (110.0 - forward)
        )

    def test_scalars_broadcast_against_arrays(self) -> None:
        strikes = np.linspace(80, 120, 5)
        calls = np.array([True, False])[:, None]
        result = price(100.0, strikes, 0.25, 0.05, 0.2, calls)
        assert result.shape == (2, 5)
        assert result[0, 0] > result[0, -1]
        assert result[1, 0] < result[1, -1]

    def test_black76_refuses_a_dividend_yield(self) -> None:
        with pytest.raises(ValueError, match="Black-76"):
            price(100, 100, 1, 0.05, 0.2, True, q=0.01, model="black76")

    def test_unknown_model_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown model"):
            price(100, 100, 1, 0.05, 0.2, True, model="heston")  # type: ignore[arg-type]

    @given(spots, log_moneyness, expiries, rates, yields, vols, models)
    def test_put_call_parity(
        self, s: float, m: float, t: float, r: float, q: float, sigma: float, model: Model
    ) -> None:
        q = q if model == "bs" else 0.0
        k = s * math.exp(m)
        call = float(price(s, k, t, r, sigma, True, q, model))
        put = float(price(s, k, t, r, sigma, False, q, model))
        forward = s * math.exp((r - q) * t) if model == "bs" else s
        parity = math.exp(-r * t) * (forward - k)
        assert call - put == pytest.approx(parity, abs=1e-12 * (s + k))
        assert call >= 0.0
        assert put >= 0.0


class TestGreeks:
    def test_hull_greeks_example(self) -> None:
        # Hull's delta-hedging example: S=49, K=50, r=5 %, sigma=20 %, T=20 weeks. Per year, Hull
        # gives delta 0.522, gamma 0.066, theta -4.31, vega 12.1, rho 8.91.
        g = greeks(49, 50, 0.3846, 0.05, 0.2, True)
        assert round(float(g.delta), 3) == 0.522
        assert round(float(g.gamma), 3) == 0.066
        assert round(float(g.theta) * DAYS_PER_YEAR, 2) == -4.31
        assert round(float(g.vega) * 100, 1) == 12.1
        assert round(float(g.rho) * 100, 2) == 8.91
        assert float(g.price) == pytest.approx(float(price(49, 50, 0.3846, 0.05, 0.2, True)))

    def test_expired_and_zero_vol_greeks_are_the_intrinsic_step(self) -> None:
        g = greeks(100, np.array([90.0, 100.0, 110.0]), 0.0, 0.05, 0.2, True)
        assert g.delta.tolist() == [1.0, 0.5, 0.0]
        for name in ("gamma", "theta", "vega", "rho"):
            assert getattr(g, name).tolist() == [0.0, 0.0, 0.0]
        put = greeks(100, 110.0, 0.5, 0.05, 0.0, False)
        assert float(put.delta) == pytest.approx(-1.0)
        assert float(put.gamma) == 0.0
        assert float(put.vega) == 0.0

    def test_every_field_has_the_broadcast_shape(self) -> None:
        g = greeks(100.0, 100.0, 0.5, 0.05, 0.2, np.array([True, False, True]))
        assert isinstance(g, Greeks)
        for name in ("price", "delta", "gamma", "theta", "vega", "rho"):
            assert getattr(g, name).shape == (3,)
        assert g.gamma[0] == g.gamma[1]

    @settings(max_examples=300, deadline=None)
    @given(
        spots,
        log_moneyness,
        expiries,
        rates,
        yields,
        vols,
        st.booleans(),
        models,
    )
    def test_greeks_match_central_differences(
        self,
        s: float,
        m: float,
        t: float,
        r: float,
        q: float,
        sigma: float,
        call: bool,
        model: Model,
    ) -> None:
        # Away from the degenerate corner where there is almost no volatility left.
        assume(sigma * math.sqrt(t) >= 0.02)
        q = q if model == "bs" else 0.0
        k = s * math.exp(m)

        def value(s: float = s, t: float = t, r: float = r, sigma: float = sigma) -> float:
            return float(price(s, k, t, r, sigma, call, q, model))

        g = greeks(s, k, t, r, sigma, call, q, model)
        scale = s + k
        # Bumps scale with the width of the distribution, s·sigma·√T.
        width = s * sigma * math.sqrt(t)
        hs = 1e-4 * width
        delta = (value(s=s + hs) - value(s=s - hs)) / (2 * hs)
        assert float(g.delta) == pytest.approx(delta, rel=1e-5, abs=1e-8)
        hg = 1e-3 * width
        gamma = (value(s=s + hg) - 2 * value() + value(s=s - hg)) / (hg * hg)
        assert float(g.gamma) == pytest.approx(gamma, rel=2e-3, abs=1e-9 * scale / hg)
        hv = 1e-5
        vega = (value(sigma=sigma + hv) - value(sigma=sigma - hv)) / (2 * hv) * 0.01
        assert float(g.vega) == pytest.approx(vega, rel=1e-5, abs=1e-11 * scale)
        ht = 1e-4 * t
        theta = -(value(t=t + ht) - value(t=t - ht)) / (2 * ht) / DAYS_PER_YEAR
        assert float(g.theta) == pytest.approx(theta, rel=1e-4, abs=1e-11 * scale / ht)
        hr = 1e-5
        rho = (value(r=r + hr) - value(r=r - hr)) / (2 * hr) * 0.01
        assert float(g.rho) == pytest.approx(rho, rel=1e-5, abs=1e-11 * scale)

    def test_vectorised_greeks_equal_a_scalar_loop(self) -> None:
        rng = np.random.default_rng(7)
        n = 200
        s = rng.uniform(50, 150, n)
        k = rng.uniform(50, 150, n)
        t = rng.uniform(-0.01, 2, n)
        r = rng.uniform(0, 0.1, n)
        sigma = rng.uniform(-0.05, 1, n)
        call = rng.random(n) < 0.5
        q = rng.uniform(0, 0.05, n)
        together = greeks(s, k, t, r, sigma, call, q)
        for i in range(n):
            alone = greeks(s[i], k[i], t[i], r[i], sigma[i], call[i], q[i])
            for name in ("price", "delta", "gamma", "theta", "vega", "rho"):
                assert getattr(together, name)[i] == pytest.approx(
                    float(getattr(alone, name)), rel=1e-14, abs=1e-300
                )


def _time_value(
    p: float, s: float, k: float, t: float, r: float, q: float, call: bool, model: Model
) -> float:
    forward = s * math.exp((r - q) * t) if model == "bs" else s
    intrinsic = math.exp(-r * t) * max((forward - k) if call else (k - forward), 0.0)
    return p - intrinsic


class TestImpliedVol:
    @settings(max_examples=500, deadline=None)
    @given(
        spots,
        log_moneyness,
        st.one_of(expiries, st.floats(min_value=ONE_HOUR, max_value=2 * ONE_HOUR)),
        rates,
        yields,
        vols,
        st.booleans(),
        models,
    )
    def test_inverts_the_price(
        self,
        s: float,
        m: float,
        t: float,
        r: float,
        q: float,
        sigma: float,
        call: bool,
        model: Model,
    ) -> None:
        q = q if model == "bs" else 0.0
        k = s * math.exp(m)
        p = float(price(s, k, t, r, sigma, call, q, model))
        iv = float(implied_vol(p, s, k, t, r, call, q, model))
        assert not math.isnan(iv)
        # The solved volatility always reprices the option, even where the price carries
        # almost no information about volatility (deep in or out of the money near expiry).
        repriced = float(price(s, k, t, r, iv, call, q, model))
        assert repriced == pytest.approx(p, rel=1e-10, abs=1e-13 * (s + k))
        # Where the price does pin volatility down, it comes back.
        raw_vega = float(greeks(s, k, t, r, sigma, call, q, model).vega) * 100
        if raw_vega > 1e-6 * s and _time_value(p, s, k, t, r, q, call, model) > 1e-9 * s:
            assert iv == pytest.approx(sigma, rel=1e-7)

    def test_deep_and_short_dated_grid_in_one_call(self) -> None:
        rng = np.random.default_rng(11)
        n = 50_000
        s = 24_000.0
        m = rng.uniform(-0.5, 0.5, n)
        k = s * np.exp(m)
        sigma = rng.uniform(0.05, 1.5, n)
        t = np.exp(rng.uniform(math.log(ONE_HOUR), math.log(2.0), n))
        r = 0.065
        call = rng.random(n) < 0.5
        for model in MODELS:
            q = 0.012 if model == "bs" else 0.0
            p = price(s, k, t, r, sigma, call, q, model)
            iv = implied_vol(p, s, k, t, r, call, q, model)
            assert not np.isnan(iv).any()
            repriced = price(s, k, t, r, iv, call, q, model)
            np.testing.assert_allclose(repriced, p, rtol=1e-10, atol=1e-13 * s)
            raw_vega = greeks(s, k, t, r, sigma, call, q, model).vega * 100
            pinned = raw_vega > 1e-6 * s
            assert pinned.mean() > 0.5
            np.testing.assert_allclose(iv[pinned], sigma[pinned], rtol=1e-7)

    def test_one_hour_to_expiry_at_and_near_the_money(self) -> None:
        strikes = np.array([23_900.0, 23_990.0, 24_000.0, 24_010.0, 24_100.0])
        for call in (True, False):
            p = price(24_000.0, strikes, ONE_HOUR, 0.065, 0.14, call)
            iv = implied_vol(p, 24_000.0, strikes, ONE_HOUR, 0.065, call)
            np.testing.assert_allclose(iv, 0.14, rtol=1e-8)

    def test_prices_outside_the_no_arbitrage_bounds_give_nan(self) -> None:
        s, k, t, r = 100.0, 90.0, 0.5, 0.05
        discount = math.exp(-r * t)
        intrinsic = s - k * discount
        prices = np.array([intrinsic - 0.01, -1.0, s, s + 5.0, math.nan, math.inf])
        assert np.isnan(implied_vol(prices, s, k, t, r, True)).all()
        # A put is worth at most the discounted strike.
        assert np.isnan(implied_vol(k * discount, s, k, t, r, False))
        assert np.isnan(implied_vol(k, s, k, t, r, False))
        # No time left: nothing to imply.
        assert np.isnan(implied_vol(10.5, s, k, 0.0, r, True))

    def test_a_price_at_intrinsic_value_implies_zero_volatility(self) -> None:
        s, k, t, r = 100.0, 90.0, 0.5, 0.05
        intrinsic = float(price(s, k, t, r, 0.0, True))
        assert float(implied_vol(intrinsic, s, k, t, r, True)) == 0.0
        assert float(implied_vol(0.0, s, 120.0, t, r, True)) == 0.0

    def test_vectorised_result_equals_a_scalar_loop(self) -> None:
        rng = np.random.default_rng(3)
        n = 300
        s = 100.0
        k = s * np.exp(rng.uniform(-0.5, 0.5, n))
        t = np.exp(rng.uniform(math.log(ONE_HOUR), math.log(2.0), n))
        sigma = rng.uniform(0.05, 1.5, n)
        call = rng.random(n) < 0.5
        p = price(s, k, t, 0.05, sigma, call, 0.01)
        p[::17] = -1.0  # some out of bounds
        together = implied_vol(p, s, k, t, 0.05, call, 0.01)
        alone = np.array(
            [float(implied_vol(p[i], s, k[i], t[i], 0.05, call[i], 0.01)) for i in range(n)]
        )
        np.testing.assert_array_equal(np.isnan(together), np.isnan(alone))
        np.testing.assert_allclose(together, alone, rtol=1e-10)
        assert np.isnan(together[::17]).all()

    def test_black76_round_trip_on_a_futures_chain(self) -> None:
        strikes = np.arange(20_000.0, 28_001.0, 100.0)
        sigma = smile_vol(0.15, np.log(strikes / 24_000.0), 7 / 365)
        for call in (True, False):
            p = price(24_000.0, strikes, 7 / 365, 0.065, sigma, call, model="black76")
            iv = implied_vol(p, 24_000.0, strikes, 7 / 365, 0.065, call, model="black76")
            repriced = price(24_000.0, strikes, 7 / 365, 0.065, iv, call, model="black76")
            np.testing.assert_allclose(repriced, p, rtol=1e-10, atol=1e-9)


class TestSurface:
    def test_at_the_money_is_the_atm_vol(self) -> None:
        assert float(smile_vol(0.2, 0.0, 0.1)) == pytest.approx(0.2)

    def test_puts_are_richer_than_calls(self) -> None:
        k = np.array([-0.1, -0.05, -0.02, 0.02, 0.05, 0.1])
        vol = smile_vol(0.15, k, 30 / 365)
        assert (vol[:3] > vol[3:][::-1]).all()
        assert vol[0] > vol[1] > vol[2] > 0.15
        assert (vol >= 0.25 * 0.15).all()
        assert (vol <= 3.0 * 0.15).all()

    def test_the_smile_steepens_as_expiry_nears(self) -> None:
        near = smile_vol(0.15, -0.05, 7 / 365)
        far = smile_vol(0.15, -0.05, 180 / 365)
        assert near > far > 0.15

    def test_term_structure_runs_from_the_short_end_to_the_long_run(self) -> None:
        t = np.array([0.0, 1 / 52, 1 / 12, 0.25, 1.0, 10.0, 1000.0])
        vol = term_vol(0.2, t)
        assert vol[0] == pytest.approx(0.9 * 0.2)
        assert (np.diff(vol) > 0).all()
        assert vol[-1] == pytest.approx(0.2, rel=1e-3)
        inverted = term_vol(0.2, t, short_ratio=1.5)
        assert inverted[0] == pytest.approx(0.3)
        assert (np.diff(inverted) < 0).all()

    def test_term_structure_refuses_a_non_positive_half_life(self) -> None:
        with pytest.raises(ValueError, match="half_life"):
            term_vol(0.2, 1.0, half_life=0.0)
