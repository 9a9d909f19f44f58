"""Fixed-time predictions (okx-bets): place a bet, read balance and bets, resolve at expiry.

The stake moves at once from the user's USDT wallet to ``system:bets``; at expiry the bet is
resolved against the feed's price at that instant and a win (stake x ratio) or a tie (the
stake) is paid back from ``system:bets``. A bet leaves ``active`` only through a conditional
update, so it resolves exactly once, however many resolvers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.bus import Bus
from tradepit.domain.clock import Clock, wall_seconds_until
from tradepit.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tradepit.domain.instruments import Kind
from tradepit.domain.ledger import Posting
from tradepit.domain.money import as_float, plain, to_units
from tradepit.domain.predictions import BetStatus, Direction, outcome, payout
from tradepit.market.data import MarketData
from tradepit.schemas.predictions import (
    BetCompleted,
    BetCompletion,
    BetCreate,
    BetPlaced,
    BetRead,
    BetResult,
    CoinPrice,
    CoinPricesRead,
    OperationRead,
    OperationsRead,
    PaymentMethod,
    PaymentMethodRead,
    PaymentMethodsRead,
)
from tradepit.schemas.wallets import WalletRead
from tradepit.services import journal
from tradepit.services.callers import Caller
from tradepit.services.wallets import BET_CURRENCY, CASH, balance_of, post
from tradepit.store import predictions as store
from tradepit.store import wallets as wallet_store
from tradepit.store.db import after_commit, commit
from tradepit.store.predictions import Bet
from tradepit.store.users import User

log = logging.getLogger("tradepit.predictions")

#: The system wallet that holds stakes and pays winnings.
BETS_WALLET = "system:bets"
#: Internal topic: a bet was placed (the resolver wakes to reschedule).
BETS_TOPIC = "bets"


class NotYourAccount(PermissionDenied):
    """The telegram handle is not the caller's."""

    code = "FORBIDDEN"


class InvalidBet(InvalidInput):
    """The bet breaks a rule (amount, duration, symbol, market hours)."""

    code = "INVALID_BET"


class DuplicateClientBetId(Conflict):
    """The client_bet_id was used before for a different bet."""

    code = "DUPLICATE_CLIENT_BET_ID"


class InsufficientBalance(InvalidInput):
    """The USDT wallet's available money does not cover the stake."""

    code = "INSUFFICIENT_BALANCE"


class BetNotFound(NotFound):
    """The caller has no bet like the one named."""

    code = "BET_NOT_FOUND"


class BetNotResolved(Conflict):
    """The bet is still active: it resolves at its expiry, at the market price then."""

    code = "BET_NOT_RESOLVED"


#: okx-bets' names of a resolved bet's outcome.
RESULTS: dict[BetStatus, BetResult] = {
    BetStatus.WON: "win",
    BetStatus.LOST: "loss",
    BetStatus.REFUNDED: "refund",
}
#: The caller's latest bets ``complete`` looks through for the one okx-bets' page names.
LOOKBACK = 200
#: okx-bets' page asks how a bet ended when its own timer, counted in one-second ticks from
#: the answer to the bet, runs out: up to a tick before the expiry the server set. A bet
#: that expires within this many wall seconds is waited for, not refused (the page asks
#: again only while another bet of its own is still counting down).
EARLY = 2.0
#: Wall seconds past its expiry that ``complete`` waits for the resolver to settle a bet.
SETTLE = 5.0
#: Wall seconds between two looks at a bet ``complete`` waits for.
POLL = 0.1
#: The entries of okx-bets' operations history (its backend's 50 latest bets).
OPERATIONS = 50
#: okx-bets' coin prices show the change over this long.
CHANGE_WINDOW = timedelta(hours=24)
#: The one way to "fund" a balance here: there is no money to take (okx-bets' deposit dialog).
PAPER_MONEY = PaymentMethod(
    id="paper",
    name="Paper money (virtual USDT)",
    details="Tradepit is a paper-trading server: balances are virtual and no payment is "
    "taken. A new account starts with TRADEPIT_STARTING_BALANCE_USDT; an administrator "
    "credits more with POST /api/admin/users/{id}/wallet-adjustments.",
)


@dataclass(frozen=True)
class BetRules:
    """What a bet may be and what a win pays (from the settings)."""

    payout_ratio: Decimal
    min_amount: Decimal
    max_amount: Decimal
    default_symbol: str
    min_minutes: int = 1
    max_minutes: int = 60


def check_caller(caller: Caller, telegram: str) -> None:
    """Refuse a telegram handle that is not the caller's (case and a leading ``@`` ignored)."""
    if telegram.strip().lstrip("@").lower() != caller.user.username.lower():
        raise NotYourAccount("you can only act for your own account")


async def place(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    bus: Bus,
    rules: BetRules,
    caller: Caller,
    body: BetCreate,
) -> tuple[BetPlaced, bool]:
    """Place a bet: debit the stake, record the entry price; return the bet with the new
    balance, and whether it is new (False: a retry of the same ``client_bet_id``).

    A retry with the same ``client_bet_id`` and body gets the first bet back as it is now,
    with the balance now, and nothing is debited again; another body is refused. The
    caller's wallets are locked before the id is looked up, so two requests with one id
    place one bet; the unique index on (user, client_bet_id) is the last word.
    """
    check_caller(caller, body.telegram)
    user = caller.user
    if body.client_bet_id is not None:
        await wallet_store.lock_user(session, user.id)
        existing = await store.by_client_id(session, user.id, body.client_bet_id)
        if existing is not None:
            return await _replay(session, market, rules, user.id, existing, body), False
    _check_terms(rules, body)
    symbol = body.symbol or rules.default_symbol
    try:
        instrument = market.instrument(symbol)
    except NotFound as exc:
        raise InvalidBet(exc.message) from exc  # "unknown symbol ...; did you mean ...?"
    now = clock.now()
    expires_at = now + timedelta(minutes=body.time)
    session_now = market.status(instrument.venue)
    if not session_now.is_open:
        raise InvalidBet(f"{instrument.venue} is closed: {session_now.reason}")
    if session_now.next_close is not None and expires_at > session_now.next_close:
        raise InvalidBet(f"{instrument.venue} closes before the bet would expire")
    try:
        entry = market.source.price_at(instrument.symbol, now)
    except NotFound as exc:
        raise InvalidBet(f"no price for {instrument.symbol} yet") from exc

    await wallet_store.lock_user(session, user.id)
    wallet = await wallet_store.find_wallet(session, user.id, CASH, BET_CURRENCY)
    if wallet is not None:
        await session.refresh(wallet, ["balance", "blocked"])
    available = Decimal(0) if wallet is None else wallet.balance - wallet.blocked
    if wallet is None or available < body.amount:
        raise InsufficientBalance(
            f"insufficient {BET_CURRENCY} balance: {plain(available)} available, "
            f"{plain(body.amount)} staked"
        )
    bet = Bet(
        user_id=user.id,
        symbol=instrument.symbol,
        direction=body.direction.value,
        amount=body.amount,
        payout_ratio=rules.payout_ratio,
        duration_minutes=body.time,
        entry_price=entry,
        placed_at=now,
        expires_at=expires_at,
        status=BetStatus.ACTIVE.value,
        client_bet_id=body.client_bet_id,
    )
    try:
        async with session.begin_nested():
            session.add(bet)
    except IntegrityError:  # the same client_bet_id, committed meanwhile by another request
        assert body.client_bet_id is not None, "only client_bet_id is unique"
        existing = await store.by_client_id(session, user.id, body.client_bet_id)
        assert existing is not None, "the index refused the id: its bet exists"
        return await _replay(session, market, rules, user.id, existing, body), False
    house = await wallet_store.system_wallet(session, BETS_WALLET, BET_CURRENCY, now)
    await post(
        session,
        clock,
        kind="bet_stake",
        reference=f"bet:{bet.id}",
        postings=[
            Posting(wallet.id, BET_CURRENCY, -body.amount),
            Posting(house.id, BET_CURRENCY, body.amount),
        ],
    )
    wallet_now = await usdt_wallet(session, user.id)
    read = BetRead.model_validate(bet)
    journal.record(session, bus, user.id, _balance(clock, wallet_now))
    after_commit(session, lambda: bus.publish(BETS_TOPIC, {"type": "bet_placed", "id": read.id}))
    return BetPlaced(**dict(read), new_balance=wallet_now.cash), True


async def _replay(
    session: AsyncSession,
    market: MarketData,
    rules: BetRules,
    user_id: int,
    bet: Bet,
    body: BetCreate,
) -> BetPlaced:
    """Return the bet a retry asks for again, or refuse a different bet under its id."""
    symbol = body.symbol or rules.default_symbol
    with contextlib.suppress(NotFound):  # an unknown symbol is not the bet's, which was known
        symbol = market.instrument(symbol).symbol
    asked = (symbol, body.direction.value, body.amount, body.time)
    if asked != (bet.symbol, bet.direction, bet.amount, bet.duration_minutes):
        raise DuplicateClientBetId(
            f"client_bet_id '{bet.client_bet_id}' was used for a different bet"
        )
    balance = await balance_of(session, user_id, BET_CURRENCY)
    return BetPlaced(**dict(BetRead.model_validate(bet)), new_balance=balance)


def _check_terms(rules: BetRules, body: BetCreate) -> None:
    if body.amount <= 0:
        raise InvalidBet("amount must be greater than 0")
    if body.amount < rules.min_amount:
        raise InvalidBet(f"amount must be at least {plain(rules.min_amount)}")
    if body.amount > rules.max_amount:
        raise InvalidBet(f"amount must be at most {plain(rules.max_amount)}")
    to_units(body.amount)  # more than 8 decimals: refused, never rounded
    if not rules.min_minutes <= body.time <= rules.max_minutes:
        raise InvalidBet(f"time must be {rules.min_minutes} to {rules.max_minutes} minutes")


async def balance(session: AsyncSession, caller: Caller, telegram_username: str) -> Decimal:
    """Return the caller's USDT balance; another user's is refused."""
    check_caller(caller, telegram_username)
    return await balance_of(session, caller.user.id, BET_CURRENCY)


async def history(session: AsyncSession, caller: Caller, limit: int) -> list[BetRead]:
    """Return the caller's latest bets with their outcomes, newest first."""
    return [BetRead.model_validate(b) for b in await store.of_user(session, caller.user.id, limit)]


async def complete(
    session: AsyncSession,
    clock: Clock,
    market: MarketData,
    caller: Caller,
    body: BetCompletion,
) -> BetCompleted:
    """Return how the bet okx-bets' page names ended, as the resolver settled it at the
    market price of its expiry; nothing the request says changes the outcome. A bet that
    expires now (within ``EARLY`` wall seconds, or expired less than ``SETTLE`` ago) is
    waited for until the resolver has settled it; one still active then, or expiring later,
    is refused (``BetNotResolved``).

    The page names a bet by what it placed (its own trade id is not ours): of the caller's
    bets so placed, the one whose expiry is nearest the market clock's now (the page asks
    when its timer for that bet runs out); ``bet_id`` names one exactly.
    """
    check_caller(caller, body.telegram)
    bet = await _named_bet(session, clock, market, caller.user.id, body)
    if bet.status == BetStatus.ACTIVE:
        bet = await _settled(session, clock, bet)
    status = BetStatus(bet.status)
    if status is BetStatus.ACTIVE:
        raise BetNotResolved(
            f"bet {bet.id} is still active: it resolves at the market price of its expiry, "
            f"{bet.expires_at.isoformat()}; ask again then"
        )
    balance = await balance_of(session, caller.user.id, BET_CURRENCY)
    return BetCompleted(
        result=RESULTS[status],
        reward=_reward(bet),
        payout=bet.payout or Decimal(0),
        new_balance=balance,
        bet=BetRead.model_validate(bet),
    )


async def _settled(session: AsyncSession, clock: Clock, bet: Bet) -> Bet:
    """Return ``bet`` once the resolver has settled it, or as it is when that takes longer
    than ``SETTLE`` wall seconds past its expiry (at once for a bet expiring later than
    ``EARLY`` from now, or expired long ago)."""
    ahead = wall_seconds_until(clock, bet.expires_at)
    if ahead > EARLY:
        return bet
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ahead + SETTLE
    while loop.time() < deadline:
        # End the transaction before waiting: on SQLite it holds the write lock the resolver
        # needs, and each look then sees what has committed since.
        await commit(session)
        await asyncio.sleep(POLL)
        found = await session.get(Bet, bet.id, populate_existing=True)
        assert found is not None, "bets are never deleted"
        bet = found
        if bet.status != BetStatus.ACTIVE:
            break
    return bet


async def _named_bet(
    session: AsyncSession, clock: Clock, market: MarketData, user_id: int, body: BetCompletion
) -> Bet:
    if body.bet_id is not None:
        found = await session.get(Bet, body.bet_id)
        if found is None or found.user_id != user_id:
            raise BetNotFound(f"you have no bet {body.bet_id}")
        return found
    # The schema requires these when bet_id is left out.
    assert body.direction is not None and body.amount is not None and body.time is not None
    symbol = None
    if body.symbol is not None:
        try:
            symbol = market.instrument(body.symbol).symbol
        except NotFound as exc:
            raise BetNotFound(f"you have no bet on it: {exc.message}") from exc
    like = await store.of_user_like(
        session, user_id, body.direction.value, body.time, symbol, LOOKBACK
    )
    placed = [bet for bet in like if bet.amount == body.amount]
    if not placed:
        raise BetNotFound("you have no bet of that direction, amount, time and symbol")
    now = clock.now()
    return min(placed, key=lambda bet: (abs(bet.expires_at - now), bet.id))


def _reward(bet: Bet) -> Decimal:
    """Return what a bet won over its stake (okx-bets' ``reward``): nothing unless it won."""
    if bet.status != BetStatus.WON or bet.payout is None:
        return Decimal(0)
    return bet.payout - bet.amount


async def operations(
    session: AsyncSession, caller: Caller, telegram_username: str, limit: int = OPERATIONS
) -> OperationsRead:
    """Return okx-bets' operations history of the caller: their latest bets, newest first;
    another user's is refused."""
    check_caller(caller, telegram_username)
    bets = await store.of_user(session, caller.user.id, limit)
    return OperationsRead(operations=[_operation(bet) for bet in bets])


def _operation(bet: Bet) -> OperationRead:
    status = BetStatus(bet.status)
    shown: Literal["active", "completed", "refunded"] = (
        "active"
        if status is BetStatus.ACTIVE
        else "refunded"
        if status is BetStatus.REFUNDED
        else "completed"
    )
    return OperationRead(
        id=f"bet_{bet.id}",
        bet_id=bet.id,
        symbol=bet.symbol,
        amount=bet.amount,
        direction=Direction(bet.direction),
        time_minutes=bet.duration_minutes,
        status=shown,
        result=RESULTS.get(status),
        reward=_reward(bet),
        payout=bet.payout,
        timestamp=bet.placed_at,
        completed_at=bet.resolved_at,
        description=f"Bet {bet.direction} {plain(bet.amount)} {BET_CURRENCY} on {bet.symbol} "
        f"for {bet.duration_minutes} min",
    )


def coin_prices(market: MarketData) -> CoinPricesRead:
    """Return okx-bets' coin prices: every USDT pair of the catalogue under okx-bets' name
    (``BTC-USDT`` as ``BTCUSDT``), its last price and its change over the last 24 hours, from
    the feed. A pair the feed has no price for yet is left out."""
    now = market.clock.now()
    prices: dict[str, CoinPrice] = {}
    for instrument in market.catalogue.select(kind=Kind.CRYPTO):
        if instrument.currency != BET_CURRENCY:
            continue
        try:
            price = market.tick(instrument.symbol).ltp
            before = market.source.price_at(instrument.symbol, now - CHANGE_WINDOW)
        except NotFound:
            continue
        change = (Decimal(0) if not before else (price - before) * 100 / before).quantize(
            Decimal("0.01")
        )
        change = change or abs(change)  # 0.00%, never -0.00%
        decimals = max(2, instrument.price_decimals)
        coin = CoinPrice(
            symbol=instrument.symbol,
            price=price,
            change_24h=change,
            formatted_price=f"{price:,.{decimals}f}".replace(",", " "),
            formatted_change=f"{change:+.2f}%",
        )
        # okx-bets' names: BTC-USDT as BTCUSDT, and a renamed coin under its old name too
        # (POL-USDT as MATICUSDT).
        for name in (instrument.symbol, *instrument.aliases):
            if name.replace("-", "").isalnum():
                prices[name.replace("-", "")] = coin
    return CoinPricesRead(prices=prices, timestamp=now)


def payment_methods() -> PaymentMethodsRead:
    """Return okx-bets' payment methods: paper money only (there is no money to take)."""
    return PaymentMethodsRead(methods=[PAPER_MONEY])


def payment_method(method_id: str) -> PaymentMethodRead:
    """Return one of ``payment_methods``."""
    if method_id != PAPER_MONEY.id:
        raise NotFound("Payment method not found")
    return PaymentMethodRead(method=PAPER_MONEY)


async def usdt_wallet(session: AsyncSession, user_id: int) -> WalletRead:
    """Return the user's USDT cash wallet as it is now."""
    wallet = await wallet_store.find_wallet(session, user_id, CASH, BET_CURRENCY)
    assert wallet is not None, "bets are staked from this wallet"
    await session.refresh(wallet, ["balance", "blocked"])
    return WalletRead(
        currency=BET_CURRENCY,
        cash=wallet.balance,
        blocked=wallet.blocked,
        available=wallet.balance - wallet.blocked,
    )


def _balance(clock: Clock, wallet: WalletRead) -> dict[str, object]:
    # The event every balance change publishes (orders too); Socket.IO sends the USDT one as
    # okx-bets' balance_update.
    return {
        "type": "balance",
        "balance": wallet.model_dump(mode="json"),
        "timestamp": clock.now().isoformat(),
    }


class Resolver:
    """Resolve bets at their expiry: sleep until the next one, wake when a bet is placed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        market: MarketData,
        bus: Bus,
        *,
        batch: int = 100,
        max_sleep: float = 60.0,
        retry: float = 5.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.market = market
        self.bus = bus
        self.batch = batch
        #: A safety net: wake at least this often (wall seconds) even if no bet was announced.
        self.max_sleep = max_sleep
        #: Wall seconds before trying again a bet that could not be resolved (no price).
        self.retry = retry

    async def run(self) -> None:
        """Resolve what expired (also while the server was down), then each bet at its
        expiry, until cancelled."""
        wake = self.bus.subscribe(BETS_TOPIC)
        try:
            while True:
                try:
                    await self.resolve_due()
                    delay = await self.seconds_to_next()
                except Exception:  # one bad bet must not stop the schedule
                    log.exception("resolving bets failed")
                    delay = self.retry
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.get(), timeout=delay)
        finally:
            wake.close()

    async def seconds_to_next(self) -> float:
        """Return the wall seconds to sleep until the next expiry (at most ``max_sleep``)."""
        async with self.sessionmaker() as session:
            expiry = await store.next_expiry(session)
        if expiry is None:
            return self.max_sleep
        seconds = wall_seconds_until(self.clock, expiry)
        # Still due after resolve_due: it could not be resolved now; try again later.
        return self.retry if seconds <= 0 else min(seconds, self.max_sleep)

    async def resolve_due(self) -> int:
        """Resolve every bet that has expired; return how many this call resolved."""
        resolved = 0
        while True:
            async with self.sessionmaker() as session:
                ids = await store.due(session, self.clock.now(), self.batch)
            done = 0
            for bet_id in ids:
                try:
                    done += await self.resolve(bet_id)
                except Exception:
                    log.exception("bet %s could not be resolved", bet_id)
            resolved += done
            if len(ids) < self.batch or done == 0:
                return resolved

    async def resolve(self, bet_id: int) -> bool:
        """Resolve one expired bet at the price of its expiry instant; False if it was not
        active any more (another resolver got there first)."""
        async with self.sessionmaker() as session:
            bet = await session.get(Bet, bet_id)
            if bet is None or bet.status != BetStatus.ACTIVE:
                return False
            await wallet_store.lock_user(session, bet.user_id)
            exit_price = self.market.source.price_at(bet.symbol, bet.expires_at)
            status = outcome(Direction(bet.direction), bet.entry_price, exit_price)
            paid = payout(status, bet.amount, bet.payout_ratio)
            now = self.clock.now()
            settled = await store.settle(
                session, bet_id, status=status.value, exit_price=exit_price, payout=paid, at=now
            )
            if not settled:
                return False
            if paid > 0:
                await self._pay(session, bet, status, paid)
            await session.refresh(bet)
            user = await session.get(User, bet.user_id)
            assert user is not None
            wallet = await usdt_wallet(session, bet.user_id)
            read = BetRead.model_validate(bet)
            self._announce(session, user, read, wallet)
            await commit(session)
        log.info("bet %s %s at %s", bet_id, status.value, exit_price)
        return True

    async def _pay(self, session: AsyncSession, bet: Bet, status: BetStatus, paid: Decimal) -> None:
        now = self.clock.now()
        house = await wallet_store.system_wallet(session, BETS_WALLET, BET_CURRENCY, now)
        wallet = await wallet_store.find_wallet(session, bet.user_id, CASH, BET_CURRENCY)
        assert wallet is not None, "a bet's stake came from this wallet"
        await post(
            session,
            self.clock,
            kind="bet_payout" if status is BetStatus.WON else "bet_refund",
            reference=f"bet:{bet.id}",
            postings=[
                Posting(house.id, BET_CURRENCY, -paid),
                Posting(wallet.id, BET_CURRENCY, paid),
            ],
        )

    def _announce(
        self, session: AsyncSession, user: User, bet: BetRead, wallet: WalletRead
    ) -> None:
        """Journal the bet's result and the new balance with the settlement's transaction."""
        journal.record(
            session,
            self.bus,
            user.id,
            {
                "type": "bet_result",
                "telegram_username": user.username,
                "result": bet.status.value,
                "payout": as_float(bet.payout or Decimal(0)),
                "bet": bet.model_dump(mode="json"),
                "balance": as_float(wallet.cash),
                "timestamp": self.clock.now().isoformat(),
            },
        )
        journal.record(session, self.bus, user.id, _balance(self.clock, wallet))
