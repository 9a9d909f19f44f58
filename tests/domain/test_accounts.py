"""Rules about people: roles, usernames, password strength and login lockout."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepit.domain.accounts import (
    InvalidUsername,
    LockoutPolicy,
    Role,
    WeakPassword,
    check_password_strength,
    normalize_username,
    username_key,
)
from tradepit.domain.errors import InvalidInput

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
FIRST_CHARS = NAME_CHARS.removesuffix(".-")
valid_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(FIRST_CHARS),
    st.text(alphabet=NAME_CHARS, min_size=2, max_size=31),
)


def minutes(n: float) -> timedelta:
    """Return ``n`` minutes."""
    return timedelta(minutes=n)


class TestRole:
    @pytest.mark.parametrize(
        ("role", "other", "expected"),
        [
            (Role.USER, Role.USER, True),
            (Role.USER, Role.ADMIN, False),
            (Role.USER, Role.SUPERADMIN, False),
            (Role.ADMIN, Role.USER, True),
            (Role.ADMIN, Role.ADMIN, True),
            (Role.ADMIN, Role.SUPERADMIN, False),
            (Role.SUPERADMIN, Role.USER, True),
            (Role.SUPERADMIN, Role.ADMIN, True),
            (Role.SUPERADMIN, Role.SUPERADMIN, True),
        ],
    )
    def test_includes_follows_rank(self, role: Role, other: Role, expected: bool) -> None:
        assert role.includes(other) is expected

    def test_ranks_are_ordered(self) -> None:
        assert Role.USER.rank < Role.ADMIN.rank < Role.SUPERADMIN.rank

    def test_values_are_the_stored_strings(self) -> None:
        assert [r.value for r in Role] == ["user", "admin", "superadmin"]
        assert Role("admin") is Role.ADMIN


class TestNormalizeUsername:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("alice", "alice"),
            ("@alice", "alice"),
            ("  bob_1 ", "bob_1"),
            (" @Carol.x-y ", "Carol.x-y"),
            ("abc", "abc"),
            ("a" * 32, "a" * 32),
            ("@" + "a" * 32, "a" * 32),
        ],
    )
    def test_accepts_and_strips(self, raw: str, expected: str) -> None:
        assert normalize_username(raw) == expected

    @given(valid_names, st.booleans())
    def test_any_valid_name_is_kept_as_is(self, name: str, at_sign: bool) -> None:
        assert normalize_username(("@" if at_sign else "") + name) == name

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "ab",
            "@ab",
            "a" * 33,
            "@" + "a" * 33,
            "has space",
            "semi;colon",
            "slash/name",
            "émile",
            "名前です",
            ".dot",
            "-dash",
            "@@alice",
            "al@ice",
            "tab\tname",
        ],
        ids=repr,
    )
    def test_refuses_bad_names(self, raw: str) -> None:
        with pytest.raises(InvalidUsername, match="3-32"):
            normalize_username(raw)

    def test_refusal_is_invalid_input(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            normalize_username("x")
        assert caught.value.code == "INVALID_USERNAME"

    @given(st.text(max_size=40))
    def test_result_is_always_valid_or_refused(self, raw: str) -> None:
        try:
            name = normalize_username(raw)
        except InvalidUsername:
            return
        assert 3 <= len(name) <= 32
        assert set(name) <= set(NAME_CHARS)
        assert not name.startswith("@")


class TestUsernameKey:
    @pytest.mark.parametrize("variant", ["Erin", "ERIN", "erin", "@erin", " @ErIn "])
    def test_ignores_case_at_sign_and_spaces(self, variant: str) -> None:
        assert username_key(variant) == "erin"

    @given(valid_names)
    def test_case_variants_share_a_key(self, name: str) -> None:
        assert username_key(name.upper()) == username_key(name.lower()) == username_key(name)
        assert username_key("@" + name.swapcase()) == username_key(name)

    def test_different_names_have_different_keys(self) -> None:
        assert username_key("erin") != username_key("erin2")


class TestPasswordStrength:
    @pytest.mark.parametrize(
        "password", ["password1", "abcdefg1", "1234567a", "x" * 127 + "1", "Ünïcode9"]
    )
    def test_accepts_strong_enough(self, password: str) -> None:
        check_password_strength(password)

    @pytest.mark.parametrize("password", ["", "a1", "abcde12"])
    def test_refuses_shorter_than_8(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="at least 8"):
            check_password_strength(password)

    def test_refuses_longer_than_128(self) -> None:
        with pytest.raises(WeakPassword, match="at most 128"):
            check_password_strength("a1" * 64 + "x")

    def test_accepts_exactly_128(self) -> None:
        check_password_strength("a1" * 64)

    @pytest.mark.parametrize("password", ["onlyletters", "ABCDEFGHIJ", "pass word!"])
    def test_refuses_without_a_digit(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="letters and digits"):
            check_password_strength(password)

    @pytest.mark.parametrize("password", ["12345678", "1234 5678!", "0000000000"])
    def test_refuses_without_a_letter(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="letters and digits"):
            check_password_strength(password)

    def test_refusal_has_its_code(self) -> None:
        with pytest.raises(WeakPassword) as caught:
            check_password_strength("short")
        assert caught.value.code == "WEAK_PASSWORD"


class TestLockoutPolicy:
    policy = LockoutPolicy()

    def test_defaults(self) -> None:
        assert self.policy.max_failures == 5
        assert self.policy.window == minutes(15)
        assert self.policy.lock_for == minutes(15)

    def test_no_failures_no_lock(self) -> None:
        assert self.policy.locked_until([], T0) is None

    def test_four_failures_do_not_lock(self) -> None:
        failures = [T0 + minutes(i) for i in range(4)]
        assert self.policy.locked_until(failures, T0 + minutes(4)) is None

    def test_five_within_15_minutes_lock_until_the_fifth_plus_15(self) -> None:
        failures = [T0 + minutes(i * 3) for i in range(5)]  # the fifth at +12 min
        fifth = failures[-1]
        assert self.policy.locked_until(failures, fifth) == fifth + minutes(15)
        assert self.policy.locked_until(failures, fifth + minutes(14)) == fifth + minutes(15)

    def test_five_exactly_15_minutes_apart_lock(self) -> None:
        failures = [T0, T0 + minutes(5), T0 + minutes(10), T0 + minutes(12), T0 + minutes(15)]
        assert self.policy.locked_until(failures, T0 + minutes(15)) == T0 + minutes(30)

    def test_five_spread_over_more_than_15_minutes_do_not_lock(self) -> None:
        failures = [T0 + minutes(i * 4) for i in range(5)]  # first to fifth: 16 minutes
        assert self.policy.locked_until(failures, failures[-1]) is None

    def test_expired_lock_returns_none(self) -> None:
        failures = [T0 + minutes(i) for i in range(5)]
        until = T0 + minutes(4) + minutes(15)
        assert self.policy.locked_until(failures, until - timedelta(seconds=1)) == until
        assert self.policy.locked_until(failures, until) is None
        assert self.policy.locked_until(failures, until + minutes(60)) is None

    def test_later_burst_extends_the_lock(self) -> None:
        failures = [T0 + minutes(i) for i in range(6)]
        assert self.policy.locked_until(failures, T0 + minutes(6)) == T0 + minutes(20)

    def test_old_failures_then_a_new_burst_lock_from_the_burst(self) -> None:
        old = [T0 + minutes(i * 10) for i in range(4)]
        burst = [T0 + minutes(100 + i) for i in range(5)]
        assert self.policy.locked_until(old + burst, T0 + minutes(104)) == T0 + minutes(119)

    def test_custom_policy(self) -> None:
        policy = LockoutPolicy(max_failures=2, window=minutes(1), lock_for=minutes(5))
        assert policy.locked_until([T0, T0 + minutes(1)], T0 + minutes(1)) == T0 + minutes(6)
        assert policy.locked_until([T0, T0 + minutes(2)], T0 + minutes(2)) is None

    @given(
        st.lists(st.integers(min_value=0, max_value=60 * 60), max_size=30),
        st.integers(min_value=0, max_value=2 * 60 * 60),
        st.randoms(use_true_random=False),
    )
    def test_order_of_failures_does_not_matter(
        self, offsets: list[int], now_offset: int, rng: random.Random
    ) -> None:
        failures = [T0 + timedelta(seconds=s) for s in offsets]
        shuffled = [*failures]
        rng.shuffle(shuffled)
        now = T0 + timedelta(seconds=now_offset)
        assert self.policy.locked_until(shuffled, now) == self.policy.locked_until(
            sorted(failures), now
        )
        assert self.policy.locked_until(list(reversed(failures)), now) == (
            self.policy.locked_until(failures, now)
        )

    @given(st.lists(st.integers(min_value=0, max_value=60 * 60), min_size=5, max_size=30))
    def test_a_lock_ends_lock_for_after_a_failure(self, offsets: list[int]) -> None:
        failures = [T0 + timedelta(seconds=s) for s in offsets]
        until = self.policy.locked_until(failures, T0)
        if until is not None:
            assert until - self.policy.lock_for in failures
            assert until > T0
