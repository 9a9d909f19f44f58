"""Tournaments: the admin's terms, joining with an entry fee, the rules orders obey, and the
leaderboard.

Each entry gets an isolated wallet (``tournament:<id>``, in the tournament's currency) funded
with the starting capital from ``system:capital``; entry fees go to ``system:tournaments``,
which pays the prizes. Orders with a ``tournament_id`` trade that wallet and positions kept
apart from the user's main ones. Starting and ending are in ``services.tournament_runs``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tradepit.domain.accounts import Role
from tradepit.domain.clock import Clock
from tradepit.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tradepit.domain.instruments import Instrument
from tradepit.domain.ledger import Posting
from tradepit.domain.market import Tick
from tradepit.domain.money import plain
from tradepit.domain.orders import Product, Side
from tradepit.domain.tournaments import (
    RuleBroken,
    TournamentStatus,
    check_position,
    split_prizes,
)
from tradepit.market.data import MarketData
from tradepit.schemas.orders import OrderCreate, PnlRead, PositionRead
from tradepit.schemas.tournaments import (
    EntryRead,
    ParticipantPortfolio,
    TournamentCreate,
    TournamentRead,
    TournamentRules,
    TournamentUpdate,
)
from tradepit.schemas.wallets import WalletRead
from tradepit.services import portfolio, wallets
from tradepit.services.callers import Caller
from tradepit.services.execution import limits_of
from tradepit.store import audit
from tradepit.store import orders as order_store
from tradepit.store import tournaments as store
from tradepit.store import wallets as wallet_store
from tradepit.store.tournaments import Tournament, TournamentEntry
from tradepit.store.wallets import Wallet
from tradepit.trading.state import TradingState

#: Entry fees in, prizes out.
HOUSE = "system:tournaments"
SCHEDULED, RUNNING = TournamentStatus.SCHEDULED.value, TournamentStatus.RUNNING.value
ENDED, CANCELLED = TournamentStatus.ENDED.value, TournamentStatus.CANCELLED.value


def topic(tournament_id: int) -> str:
    """Return the bus topic of a tournament's leaderboard."""
    return f"tournament.{tournament_id}"


class TournamentNotFound(NotFound):
    """No tournament has this id (or it was deleted)."""

    code = "TOURNAMENT_NOT_FOUND"


class TournamentState(Conflict):
    """The tournament is not in a state that allows this."""

    code = "TOURNAMENT_STATE"


class AlreadyJoined(Conflict):
    """The caller has joined this tournament already."""

    code = "ALREADY_JOINED"


class TournamentFull(Conflict):
    """The tournament has as many participants as it allows."""

    code = "TOURNAMENT_FULL"


class NotJoined(NotFound):
    """The caller has not joined this tournament."""

    code = "NOT_JOINED"


class PortfolioHidden(PermissionDenied):
    """The tournament hides its participants' portfolios until it has ended."""

    code = "PORTFOLIO_HIDDEN"


class InvalidTournament(InvalidInput):
    """The tournament's terms contradict themselves (end before start...)."""

    code = "INVALID_TOURNAMENT"


def _check_terms(t: Tournament, now: datetime) -> None:
    if t.end_time <= t.start_time:
        raise InvalidTournament("end_time must be after start_time")
    if t.status == SCHEDULED and t.end_time <= now:
        raise InvalidTournament("end_time must be in the future")
    try:
        split_prizes(t.prize_pool, [Decimal(p) for p in t.prize_split], len(t.prize_split))
    except InvalidInput as exc:
        raise InvalidTournament(exc.message) from exc


def audit_action(
    session: AsyncSession, wall: Clock, caller: Caller, action: str, t: Tournament, **details: str
) -> None:
    """Record an admin's action on a tournament in the audit log."""
    audit.record(
        session,
        wall,
        action=action,
        actor_id=caller.user.id,
        actor=caller.user.username,
        target=f"tournament:{t.id}",
        ip=caller.ip,
        details={"name": t.name, **details},
    )


async def read(session: AsyncSession, t: Tournament) -> TournamentRead:
    """Return the wire shape of a tournament."""
    return TournamentRead(
        id=t.id,
        name=t.name,
        description=t.description,
        status=TournamentStatus(t.status),
        currency=t.currency,
        start_time=t.start_time,
        end_time=t.end_time,
        starting_capital=t.starting_capital,
        entry_fee=t.entry_fee,
        prize_pool=t.prize_pool,
        prize_split=[Decimal(p) for p in t.prize_split],
        max_participants=t.max_participants,
        participants=await store.count_entries(session, t.id),
        rules=TournamentRules.model_validate(t.rules),
        created_at=t.created_at,
        started_at=t.started_at,
        ended_at=t.ended_at,
    )


async def find(session: AsyncSession, tournament_id: int, *, lock: bool = False) -> Tournament:
    """Return a tournament (locked when asked); a deleted one is not found."""
    t = await session.get(Tournament, tournament_id, with_for_update=lock, populate_existing=lock)
    if t is None or t.status == CANCELLED:
        raise TournamentNotFound(f"tournament {tournament_id} not found")
    return t


async def create(
    session: AsyncSession, clock: Clock, wall: Clock, caller: Caller, body: TournamentCreate
) -> TournamentRead:
    """Create a scheduled tournament. Audited."""
    now = clock.now()
    t = Tournament(
        name=body.name,
        description=body.description,
        currency=body.currency,
        start_time=body.start_time,
        end_time=body.end_time,
        starting_capital=body.starting_capital,
        entry_fee=body.entry_fee,
        prize_pool=body.prize_pool,
        prize_split=[plain(p) for p in body.prize_split],
        max_participants=body.max_participants,
        rules=body.rules.model_dump(mode="json"),
        status=SCHEDULED,
        created_by=caller.user.id,
        created_at=now,
    )
    _check_terms(t, now)
    session.add(t)
    await session.flush()
    audit_action(session, wall, caller, "admin.tournament.create", t)
    return await read(session, t)


async def update(
    session: AsyncSession,
    clock: Clock,
    wall: Clock,
    caller: Caller,
    tournament_id: int,
    body: TournamentUpdate,
) -> TournamentRead:
    """Change a tournament that has not started. Money terms are fixed once someone joined."""
    t = await find(session, tournament_id, lock=True)
    if t.status != SCHEDULED:
        raise TournamentState(f"tournament {t.id} is {t.status}: only a scheduled one changes")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    money = {"starting_capital", "entry_fee"} & changes.keys()
    if money and await store.count_entries(session, t.id):
        raise TournamentState(f"{', '.join(sorted(money))} cannot change once someone joined")
    for name in changes:
        value = getattr(body, name)
        if name == "prize_split":
            value = [plain(p) for p in value]
        elif name == "rules":
            value = value.model_dump(mode="json")
        setattr(t, name, value)
    _check_terms(t, clock.now())
    audit_action(
        session, wall, caller, "admin.tournament.update", t, fields=",".join(sorted(changes))
    )
    return await read(session, t)


async def delete(
    session: AsyncSession, clock: Clock, wall: Clock, caller: Caller, tournament_id: int
) -> int:
    """Delete a tournament that has not started: refund every entry fee and take the starting
    capital back. Returns how many entries were refunded. Audited."""
    t = await find(session, tournament_id, lock=True)
    if not await store.move(session, t.id, SCHEDULED, CANCELLED):
        raise TournamentState(f"tournament {t.id} is {t.status}: only a scheduled one is deleted")
    t.status = CANCELLED
    entries = await store.entries(session, t.id)
    now = clock.now()
    house = await wallet_store.system_wallet_id(session, HOUSE, t.currency, now)
    capital = await wallet_store.system_wallet_id(session, wallets.CAPITAL, t.currency, now)
    for entry in sorted(entries, key=lambda e: e.user_id):
        await wallet_store.lock_user(session, entry.user_id)
        main = await _main_wallet(session, entry.user_id, t.currency)
        own = await session.get(Wallet, entry.wallet_id, populate_existing=True)
        assert own is not None
        postings = [
            Posting(own.id, t.currency, -own.balance),
            Posting(capital, t.currency, own.balance),
        ]
        if t.entry_fee > 0:
            postings += [
                Posting(house, t.currency, -t.entry_fee),
                Posting(main.id, t.currency, t.entry_fee),
            ]
        await wallets.post(
            session, clock, kind="tournament_refund", reference=f"tournament:{t.id}",
            postings=[p for p in postings if p.amount != 0],
        )  # fmt: skip
    audit_action(session, wall, caller, "admin.tournament.delete", t, refunds=str(len(entries)))
    return len(entries)


async def _main_wallet(session: AsyncSession, user_id: int, currency: str) -> Wallet:
    wallet = await wallet_store.find_wallet(session, user_id, wallets.CASH, currency)
    if wallet is None:
        raise wallets.UnknownWallet(f"you have no {currency} wallet")
    return wallet


async def join(
    session: AsyncSession, clock: Clock, caller: Caller, tournament_id: int
) -> EntryRead:
    """Join: pay the entry fee from the main wallet and open the isolated wallet with the
    starting capital."""
    t = await find(session, tournament_id, lock=True)
    rules = TournamentRules.model_validate(t.rules)
    if t.status == RUNNING and not rules.allow_late_entry:
        raise TournamentState(f"tournament {t.id} has started and takes no late entries")
    if t.status not in (SCHEDULED, RUNNING):
        raise TournamentState(f"tournament {t.id} is {t.status}")
    user_id = caller.user.id
    await wallet_store.lock_user(session, user_id)
    if await store.entry_of(session, t.id, user_id) is not None:
        raise AlreadyJoined(f"you have joined tournament {t.id} already")
    if t.max_participants is not None and await store.count_entries(session, t.id) >= (
        t.max_participants
    ):
        raise TournamentFull(f"tournament {t.id} is full ({t.max_participants} participants)")
    now = clock.now()
    main = await _main_wallet(session, user_id, t.currency)
    own = Wallet(
        user_id=user_id,
        name=wallets.tournament_wallet(t.id),
        currency=t.currency,
        balance=Decimal(0),
        blocked=Decimal(0),
        created_at=now,
    )
    session.add(own)
    await session.flush()
    house = await wallet_store.system_wallet_id(session, HOUSE, t.currency, now)
    capital = await wallet_store.system_wallet_id(session, wallets.CAPITAL, t.currency, now)
    postings = [
        Posting(capital, t.currency, -t.starting_capital),
        Posting(own.id, t.currency, t.starting_capital),
    ]
    if t.entry_fee > 0:
        postings += [
            Posting(main.id, t.currency, -t.entry_fee),
            Posting(house, t.currency, t.entry_fee),
        ]
    await wallets.post(
        session, clock, kind="tournament_entry", reference=f"tournament:{t.id}", postings=postings
    )
    entry = TournamentEntry(
        tournament_id=t.id,
        user_id=user_id,
        wallet_id=own.id,
        joined_at=now,
        trades=0,
        closed_trades=0,
        winning_trades=0,
        peak_equity=t.starting_capital,
        max_drawdown=Decimal(0),
    )
    session.add(entry)
    await session.flush()
    await session.refresh(own, ["balance", "blocked"])
    wallet = WalletRead(
        currency=own.currency, cash=own.balance, blocked=own.blocked,
        available=own.balance - own.blocked,
    )  # fmt: skip
    return EntryRead(
        tournament_id=t.id,
        user_id=user_id,
        joined_at=now,
        entry_fee=t.entry_fee,
        wallet=wallet,
    )


async def check_order(
    session: AsyncSession,
    clock: Clock,
    user_id: int,
    tournament_id: int,
    instrument: Instrument,
    product: Product,
    body: OrderCreate,
    tick: Tick,
) -> None:
    """Refuse an order the tournament does not allow, naming the rule it breaks.

    ``body.quantity`` is what the order may still fill: all of it when placed, what is left
    of it when modified. Its fills are held to the position rules again (``execution``).
    """
    t = await find(session, tournament_id)
    if await store.entry_of(session, t.id, user_id) is None:
        raise NotJoined(f"you have not joined tournament {t.id}")
    if t.status != RUNNING:
        raise TournamentState(f"tournament {t.id} is {t.status}: orders are taken while it runs")
    rules = TournamentRules.model_validate(t.rules)
    if instrument.currency != t.currency:
        raise RuleBroken(
            f"currency: tournament {t.id} trades in {t.currency}, "
            f"{instrument.symbol} in {instrument.currency}"
        )
    allowed = {s.upper() for s in rules.allowed_instruments}
    if allowed and instrument.symbol not in allowed:
        raise RuleBroken(f"allowed_instruments: {instrument.symbol} is not allowed")
    if rules.allowed_venues and instrument.venue not in rules.allowed_venues:
        raise RuleBroken(f"allowed_venues: {instrument.venue.value} is not allowed")
    buying = body.order_side is Side.BUY
    price = body.price or body.trigger_price or (tick.ask if buying else tick.bid) or tick.ltp
    if rules.min_price is not None and price < rules.min_price:
        raise RuleBroken(
            f"min_price: {instrument.symbol} at {plain(price)} is below {plain(rules.min_price)}"
        )
    row = await order_store.position(
        session, user_id, instrument.symbol, product.value, tournament_id
    )
    held = row.quantity if row is not None else Decimal(0)
    change = body.order_side.sign * body.quantity
    check_position(
        limits_of(t), held, change, price, instrument.multiplier,
        settles_in_base=instrument.settles_in_base,
    )  # fmt: skip


async def listing(session: AsyncSession, status: TournamentStatus | None) -> list[TournamentRead]:
    """Return the tournaments, filtered by status."""
    found = await store.listing(session, status.value if status else None)
    return [await read(session, t) for t in found]


#: The seed's ``status_filter`` values (``UPCOMING``, ``ACTIVE``...) and what they mean here.
STATUS_FILTERS: dict[str, TournamentStatus] = {
    "UPCOMING": TournamentStatus.SCHEDULED,
    "REGISTRATION_OPEN": TournamentStatus.SCHEDULED,
    "ACTIVE": TournamentStatus.RUNNING,
    "COMPLETED": TournamentStatus.ENDED,
    "CANCELLED": TournamentStatus.CANCELLED,
}


def status_filter(value: str) -> TournamentStatus:
    """Return the status the seed's ``status_filter`` (or ours, in any case) names."""
    found = STATUS_FILTERS.get(value.upper())
    if found is not None:
        return found
    try:
        return TournamentStatus(value.lower())
    except ValueError:
        names = [*STATUS_FILTERS, *(s.value for s in TournamentStatus)]
        raise InvalidInput(f"status_filter must be one of {', '.join(names)}") from None


async def my_entry(
    session: AsyncSession, caller: Caller, tournament_id: int
) -> tuple[Tournament, TournamentEntry]:
    """Return the tournament and the caller's entry in it; refuse one not joined."""
    t = await find(session, tournament_id)
    entry = await store.entry_of(session, t.id, caller.user.id)
    if entry is None:
        raise NotJoined(f"you have not joined tournament {t.id}")
    return t, entry


async def entry_positions(
    session: AsyncSession,
    state: TradingState,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
) -> list[PositionRead]:
    """Return the caller's positions in the tournament, marked to the last price."""
    t, _ = await my_entry(session, caller, tournament_id)
    return await portfolio.entry_positions(state.within(session), market, caller.user.id, t.id)


async def entry_pnl(
    session: AsyncSession,
    state: TradingState,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
) -> PnlRead:
    """Return the P&L of the caller's positions in the tournament (its currency)."""
    t, _ = await my_entry(session, caller, tournament_id)
    return await portfolio.pnl(state.within(session), market, caller, t.currency, t.id)


async def get(session: AsyncSession, tournament_id: int) -> TournamentRead:
    """Return one tournament."""
    return await read(session, await find(session, tournament_id))


async def participant_portfolio(
    session: AsyncSession,
    state: TradingState,
    market: MarketData,
    caller: Caller,
    tournament_id: int,
    user_id: int,
) -> ParticipantPortfolio:
    """Return a participant's positions in the tournament and their equity, marked to the last
    price. Anyone logged in sees them, unless the tournament hides portfolios and has not
    ended: then only the participant and administrators do."""
    t = await find(session, tournament_id)
    entry = await store.entry_of(session, t.id, user_id)
    if entry is None:
        raise NotJoined(f"user {user_id} has not joined tournament {t.id}")
    hidden = TournamentRules.model_validate(t.rules).hide_portfolios and t.status != ENDED
    if hidden and caller.user.id != user_id and not caller.role.includes(Role.ADMIN):
        raise PortfolioHidden(
            f"tournament {t.id} hides its participants' portfolios until it has ended"
        )
    own = await session.get(Wallet, entry.wallet_id)
    assert own is not None
    held = await portfolio.entry_portfolio(
        state.within(session), market, user_id, t.id, own.currency, own.balance
    )
    names = await store.usernames(session, [user_id])
    return ParticipantPortfolio(
        **held.currencies[0].model_dump(),
        tournament_id=t.id,
        user_id=user_id,
        username=names.get(user_id, ""),
        positions=held.positions,
    )
