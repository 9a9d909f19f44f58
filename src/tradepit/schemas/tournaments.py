"""Shapes of tournaments, their rules, entries and leaderboards. Money is a decimal string."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
)

from tradepit.domain.instruments import Venue
from tradepit.domain.tournaments import TournamentStatus
from tradepit.schemas.orders import ORDER_FILLED, PortfolioCurrency, PositionRead
from tradepit.schemas.users import NO_NUL
from tradepit.schemas.wallets import PLAIN, Currency, Money, WalletRead

#: The largest starting capital, fee or pool: every entry's capital comes from one system
#: wallet, which must stay within the exact range (±9.2 x 10^10) for many entries.
_MAX = Decimal("100000000")


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc
    if not 2000 <= utc.year <= 2100:
        raise ValueError("time must be between the years 2000 and 2100")
    return utc


When = Annotated[AwareDatetime, AfterValidator(_in_range)]
Amount = Annotated[
    Decimal, Field(gt=0, le=_MAX, max_digits=19, decimal_places=8, allow_inf_nan=False), PLAIN
]
Fee = Annotated[
    Decimal, Field(ge=0, le=_MAX, max_digits=19, decimal_places=8, allow_inf_nan=False), PLAIN
]
Share = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4, allow_inf_nan=False), PLAIN]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=NO_NUL)
]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
Symbol = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=NO_NUL)
]


class TournamentRules(BaseModel):
    """What an entry may trade. Lists left empty allow everything."""

    model_config = ConfigDict(extra="forbid")
    max_position_pct: Share | None = Field(
        default=None, description="Largest position, as % of the starting capital"
    )
    min_price: Amount | None = Field(default=None, description="No instrument priced below this")
    allow_shorts: bool = Field(default=True, description="Whether entries may sell short")
    allow_late_entry: bool = Field(
        default=False, description="Whether one may join after the start, until the end"
    )
    hide_portfolios: bool = Field(
        default=False,
        description="Whether participants' portfolios stay hidden from others until the end",
    )
    allowed_instruments: list[Symbol] = Field(
        default_factory=list, max_length=500, description="Symbols that may be traded; [] all"
    )
    allowed_venues: list[Venue] = Field(
        default_factory=list, max_length=10, description="Venues that may be traded; [] all"
    )


class TournamentCreate(BaseModel):
    """A new tournament (paper-tournaments' body plus its currency)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Friday NSE sprint",
                    "description": "One day, NSE equities only",
                    "start_time": "2030-01-04T03:45:00+00:00",
                    "end_time": "2030-01-04T10:00:00+00:00",
                    "starting_capital": "1000000",
                    "entry_fee": "100",
                    "prize_pool": "10000",
                    "prize_split": ["50", "30", "20"],
                    "max_participants": 100,
                    "rules": {"max_position_pct": "25", "allow_shorts": False},
                }
            ]
        },
    )
    name: Name = Field(description="Its name (1-120 characters)")
    description: Text = Field(default="", description="What it is about, shown to players")
    start_time: When = Field(description="When it starts (ISO 8601 with offset)")
    end_time: When = Field(description="When it ends (ISO 8601 with offset)")
    currency: Currency = Field(
        default="INR", description="INR, USDT or USD: the currency of every amount here"
    )
    starting_capital: Amount = Field(description="Each entry's isolated wallet starts with this")
    entry_fee: Fee = Field(
        default=Decimal(0), description="Paid from the player's main wallet on joining"
    )
    prize_pool: Fee = Field(default=Decimal(0), description="Paid out to the top ranks at the end")
    prize_split: list[Share] = Field(
        default_factory=list,
        max_length=100,
        description="% of the prize pool per rank, first place first (sum at most 100)",
    )
    max_participants: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Entries allowed; null for no limit"
    )
    rules: TournamentRules = Field(
        default_factory=TournamentRules, description="What entries may trade"
    )


class TournamentUpdate(BaseModel):
    """Changes to a tournament that has not started; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(default=None, description="A new name")
    description: Text | None = Field(default=None, description="A new description")
    start_time: When | None = Field(default=None, description="A new start (ISO 8601)")
    end_time: When | None = Field(default=None, description="A new end (ISO 8601)")
    starting_capital: Amount | None = Field(
        default=None, description="A new starting capital (only while nobody joined)"
    )
    entry_fee: Fee | None = Field(
        default=None, description="A new entry fee (only while nobody joined)"
    )
    prize_pool: Fee | None = Field(default=None, description="A new prize pool")
    prize_split: list[Share] | None = Field(
        default=None, max_length=100, description="A new split, % of the pool per rank"
    )
    max_participants: int | None = Field(
        default=None, ge=1, le=1_000_000, description="A new entry limit"
    )
    rules: TournamentRules | None = Field(default=None, description="New rules, replacing all")


class TournamentRead(BaseModel):
    """A tournament as anyone sees it."""

    id: int = Field(description="The tournament's id")
    name: str = Field(description="Its name")
    description: str = Field(description="What it is about")
    status: TournamentStatus = Field(description="scheduled, running, ended or cancelled")
    currency: str = Field(description="INR, USDT or USD: the currency of every amount here")
    start_time: datetime = Field(description="When it starts (market clock, UTC)")
    end_time: datetime = Field(description="When it ends (market clock, UTC)")
    starting_capital: Money = Field(description="Each entry's starting wallet (decimal string)")
    entry_fee: Money = Field(description="Paid on joining (decimal string)")
    prize_pool: Money = Field(description="Paid to the top ranks at the end (decimal string)")
    prize_split: list[Money] = Field(description="% of the pool per rank, first place first")
    max_participants: int | None = Field(description="Entries allowed; null for no limit")
    participants: int = Field(description="Entries so far")
    rules: TournamentRules = Field(description="What entries may trade")
    created_at: datetime = Field(description="When it was created (market clock, UTC)")
    started_at: datetime | None = Field(description="When it started; null before")
    ended_at: datetime | None = Field(description="When it ended; null before")

    # The paper-tournaments frontend's names for the same facts (``TournamentCard``).
    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_date(self) -> datetime:
        """The same as start_time."""
        return self.start_time

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_date(self) -> datetime:
        """The same as end_time."""
        return self.end_time

    @computed_field  # type: ignore[prop-decorator]
    @property
    def registration_deadline(self) -> datetime:
        """The last moment to join: the start, or the end with ``rules.allow_late_entry``."""
        return self.end_time if self.rules.allow_late_entry else self.start_time

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tournament_type(self) -> str:
        """SOLO: every entry trades alone (there are no team tournaments here)."""
        return "SOLO"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def current_participants(self) -> int:
        """The same as participants."""
        return self.participants

    @computed_field  # type: ignore[prop-decorator]
    @property
    def starting_balance(self) -> float:
        """The starting capital as a JSON number."""
        return float(self.starting_capital)


class Standing(BaseModel):
    """One line of a leaderboard."""

    rank: int = Field(description="1 is the best return")
    user_id: int = Field(description="The participant's user id")
    username: str = Field(description="The participant's username")
    equity: Money = Field(
        description="Cash plus positions marked to the last price, in the tournament's "
        "currency (decimal string)"
    )
    pnl: Money = Field(description="equity - starting capital (decimal string)")
    roi: Money = Field(description="Return on the starting capital, %")
    win_rate: Money = Field(description="% of closed trades with a positive net P&L")
    trades: int = Field(description="Fills of the participant's orders")
    max_drawdown: Money = Field(description="Deepest fall from a peak of equity, %")
    prize: Money | None = Field(
        default=None, description="The prize won, once ended (decimal string); else null"
    )
    closed_trades: int = Field(default=0, description="Fills that closed something")
    winning_trades: int = Field(default=0, description="Closing fills with a positive net P&L")


class LeaderboardRead(BaseModel):
    """A tournament's ranking: live while it runs, frozen once it has ended."""

    tournament_id: int = Field(description="The tournament's id")
    status: TournamentStatus = Field(description="scheduled, running, ended or cancelled")
    as_of: datetime = Field(description="When the board was marked (market clock, UTC)")
    final: bool = Field(description="true once ended: the frozen final standings")
    entries: list[Standing] = Field(description="The lines, best first (a page when asked)")
    total: int = Field(description="Entries on the whole board")


class LeaderboardLine(Standing):
    """A line of ``GET /api/tournaments/{id}/leaderboard`` (a bare list, as the
    paper-tournaments frontend reads it): the standing, and the frontend's names for it as
    JSON numbers. ``total_trades`` counts the closing fills ``win_rate`` is of."""

    id: int = Field(description="The participant's user id")
    tournament_id: int = Field(description="The tournament's id")
    total_pnl: float = Field(description="pnl as a JSON number")
    roi_percentage: float = Field(description="roi (%) as a JSON number")
    total_trades: int = Field(description="closed_trades: the closing fills win_rate is of")
    current_balance: float = Field(description="Equity")
    updated_at: datetime = Field(description="When the board was marked")

    @classmethod
    def of(cls, tournament_id: int, line: Standing, as_of: datetime) -> LeaderboardLine:
        """Return ``line`` with the frontend's fields."""
        return cls(
            **line.model_dump(),
            id=line.user_id,
            tournament_id=tournament_id,
            total_pnl=float(line.pnl),
            roi_percentage=float(line.roi),
            total_trades=line.closed_trades,
            current_balance=float(line.equity),
            updated_at=as_of,
        )


class ParticipationRead(BaseModel):
    """My entry in a tournament, as the paper-tournaments frontend reads it (JSON numbers)."""

    id: int = Field(description="The entry's id")
    tournament_id: int = Field(description="The tournament's id")
    user_id: int = Field(description="My user id")
    joined_at: datetime = Field(description="When I joined (market clock, UTC)")
    entry_fee_paid: bool = Field(default=True, description="Always true: joining pays it")
    is_active: bool = Field(description="The tournament has not ended")
    initial_balance: float = Field(description="The starting capital")
    current_balance: float = Field(description="Equity: cash plus positions, marked now")
    total_pnl: float = Field(description="current_balance - initial_balance (JSON number)")
    pnl: float = Field(description="The same as total_pnl")
    rank: int | None = Field(description="My rank; null before the board has me")


class ParticipantStatusRead(BaseModel):
    """``GET /api/tournaments/{id}/participant``: whether I joined, and my entry."""

    joined: bool = Field(description="Whether I joined")
    userId: str = Field(description="My user id, as text")  # noqa: N815 - the frontend's name
    participant: ParticipationRead | None = Field(
        default=None, description="My entry when joined, else null"
    )


class EntryRead(BaseModel):
    """The caller's entry: when they joined and their isolated wallet."""

    tournament_id: int = Field(description="The tournament's id")
    user_id: int = Field(description="My user id")
    joined_at: datetime = Field(description="When I joined (market clock, UTC)")
    entry_fee: Money = Field(description="The fee paid from my main wallet (decimal string)")
    wallet: WalletRead = Field(description="My isolated wallet in it, with the starting capital")


class MyRankRead(BaseModel):
    """The caller's line of the leaderboard and how many take part."""

    tournament_id: int = Field(description="The tournament's id")
    participants: int = Field(description="Entries on the board")
    standing: Standing = Field(description="My line")


class MyTournament(BaseModel):
    """A tournament the caller joined, with their standing in it."""

    tournament: TournamentRead = Field(description="The tournament")
    standing: Standing | None = Field(description="My line; null before the board has me")


class ParticipantPortfolio(PortfolioCurrency):
    """A participant's portfolio in a tournament: the isolated wallet's cash, the positions'
    value and P&L, the equity (cash + positions value) and every position (open, and closed
    ones with their realized P&L), marked to the last price."""

    tournament_id: int = Field(description="The tournament's id")
    user_id: int = Field(description="The participant's user id")
    username: str = Field(description="The participant's username")
    positions: list[PositionRead] = Field(
        description="Open positions, and closed ones with their realized P&L"
    )


class TournamentDeleted(BaseModel):
    """The answer to deleting a tournament."""

    success: bool = Field(description="Always true (a refusal is an error answer)")
    id: int = Field(description="The deleted tournament's id")
    refunded_entries: int = Field(description="Entries whose fee was paid back")


# Answers as /docs shows them (``api.examples``); tests/api/test_reference.py checks each
# against its model.
TOURNAMENT: dict[str, Any] = {
    "id": 1,
    "name": "Friday NSE sprint",
    "description": "One day, NSE equities only",
    "status": "scheduled",
    "currency": "INR",
    "start_time": "2026-01-16T03:45:00Z",
    "end_time": "2026-01-16T10:00:00Z",
    "starting_capital": "1000000",
    "entry_fee": "100",
    "prize_pool": "10000",
    "prize_split": ["50", "30", "20"],
    "max_participants": 100,
    "participants": 0,
    "rules": {
        "max_position_pct": "25",
        "min_price": None,
        "allow_shorts": False,
        "allow_late_entry": False,
        "hide_portfolios": False,
        "allowed_instruments": [],
        "allowed_venues": ["NSE"],
    },
    "created_at": "2026-01-14T05:36:00Z",
    "started_at": None,
    "ended_at": None,
    "start_date": "2026-01-16T03:45:00Z",
    "end_date": "2026-01-16T10:00:00Z",
    "registration_deadline": "2026-01-16T03:45:00Z",
    "tournament_type": "SOLO",
    "current_participants": 0,
    "starting_balance": 1000000.0,
}
TOURNAMENT_UPDATED: dict[str, Any] = {**TOURNAMENT, "prize_pool": "12000"}
TOURNAMENT_RUNNING: dict[str, Any] = {
    **TOURNAMENT,
    "status": "running",
    "participants": 24,
    "current_participants": 24,
    "started_at": "2026-01-16T03:45:00Z",
}
TOURNAMENT_ENDED: dict[str, Any] = {
    **TOURNAMENT_RUNNING,
    "status": "ended",
    "ended_at": "2026-01-16T10:00:00Z",
}
TOURNAMENT_DELETED: dict[str, Any] = {"success": True, "id": 2, "refunded_entries": 3}
STANDING: dict[str, Any] = {
    "rank": 1,
    "user_id": 1,
    "username": "alice_trades",
    "equity": "1012456.3",
    "pnl": "12456.3",
    "roi": "1.2456",
    "win_rate": "66.6667",
    "trades": 5,
    "max_drawdown": "0.4127",
    "prize": None,
    "closed_trades": 3,
    "winning_trades": 2,
}
LEADERBOARD: dict[str, Any] = {
    "tournament_id": 1,
    "status": "running",
    "as_of": "2026-01-16T06:15:00Z",
    "final": False,
    "entries": [
        STANDING,
        {
            **STANDING,
            "rank": 2,
            "user_id": 7,
            "username": "bob",
            "equity": "998120.75",
            "pnl": "-1879.25",
            "roi": "-0.1879",
            "win_rate": "0",
            "trades": 2,
            "max_drawdown": "0.2514",
            "closed_trades": 1,
            "winning_trades": 0,
        },
    ],
    "total": 24,
}
LEADERBOARD_LINE: dict[str, Any] = {
    **STANDING,
    "id": 1,
    "tournament_id": 1,
    "total_pnl": 12456.3,
    "roi_percentage": 1.2456,
    "total_trades": 3,
    "current_balance": 1012456.3,
    "updated_at": "2026-01-16T06:15:00Z",
}
MY_TOURNAMENTS: list[dict[str, Any]] = [{"tournament": TOURNAMENT_RUNNING, "standing": STANDING}]
ENTRY: dict[str, Any] = {
    "tournament_id": 1,
    "user_id": 1,
    "joined_at": "2026-01-14T05:36:00Z",
    "entry_fee": "100",
    "wallet": {"currency": "INR", "cash": "1000000", "blocked": "0", "available": "1000000"},
}
PARTICIPATION: dict[str, Any] = {
    "id": 1,
    "tournament_id": 1,
    "user_id": 1,
    "joined_at": "2026-01-14T05:36:00Z",
    "entry_fee_paid": True,
    "is_active": True,
    "initial_balance": 1000000.0,
    "current_balance": 1012456.3,
    "total_pnl": 12456.3,
    "pnl": 12456.3,
    "rank": 1,
}
PARTICIPANT: dict[str, Any] = {"joined": True, "userId": "1", "participant": PARTICIPATION}
MY_RANK: dict[str, Any] = {"tournament_id": 1, "participants": 24, "standing": STANDING}
TOURNAMENT_POSITION: dict[str, Any] = {
    "id": 2,
    "user_id": 1,
    "tournament_id": 1,
    "symbol": "TCS",
    "tradingsymbol": "TCS",
    "exchange": "NSE",
    "instrument_type": "EQ",
    "product": "MIS",
    "currency": "INR",
    "quantity": "20",
    "multiplier": "1",
    "average_price": "3055.9",
    "ltp": "3070.5",
    "current_price": "3070.5",
    "realized_pnl": "-25.69",
    "unrealized_pnl": "292",
    "pnl": "266.31",
    "charges": "25.69",
}
TOURNAMENT_PNL: dict[str, Any] = {
    "currency": "INR",
    "unrealised": 292.0,
    "realised": -25.69,
    "total": 266.31,
}
PARTICIPANT_PORTFOLIO: dict[str, Any] = {
    "currency": "INR",
    "cash": "999974.31",
    "positions_value": "292",
    "equity": "1000266.31",
    "realized_pnl": "-25.69",
    "unrealized_pnl": "292",
    "margin_used": "12223.6",
    "tournament_id": 1,
    "user_id": 1,
    "username": "alice_trades",
    "positions": [TOURNAMENT_POSITION],
}
#: An order in a tournament trades the entry's isolated wallet (``tournament_id``).
ENTRY_ORDER: dict[str, Any] = {
    **ORDER_FILLED,
    "id": 4,
    "client_order_id": None,
    "symbol": "TCS",
    "product": "MIS",
    "quantity": "20",
    "filled_quantity": "20",
    "average_price": "3055.9",
    "charges": "25.69",
    "tournament_id": 1,
    "created_at": "2026-01-16T04:02:00Z",
    "updated_at": "2026-01-16T04:02:00Z",
    "fills": [
        {
            "quantity": "20",
            "price": "3055.9",
            "charges": "25.69",
            "liquidity": "taker",
            "at": "2026-01-16T04:02:00Z",
        }
    ],
}
ENTRY_ORDER_CANCELLED: dict[str, Any] = {
    **ENTRY_ORDER,
    "id": 5,
    "order_type": "LIMIT",
    "filled_quantity": "0",
    "price": "3010",
    "average_price": None,
    "status": "cancelled",
    "reason": "cancelled by you",
    "charges": "0",
    "updated_at": "2026-01-16T04:20:00Z",
    "fills": [],
}
ENTRY_CLOSING: dict[str, Any] = {
    **ENTRY_ORDER,
    "id": 6,
    "order_side": "SELL",
    "average_price": "3070.5",
    "charges": "25.83",
    "created_at": "2026-01-16T06:15:00Z",
    "updated_at": "2026-01-16T06:15:00Z",
    "fills": [
        {
            "quantity": "20",
            "price": "3070.5",
            "charges": "25.83",
            "liquidity": "taker",
            "at": "2026-01-16T06:15:00Z",
        }
    ],
}
