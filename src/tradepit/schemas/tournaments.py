"""Shapes of tournaments, their rules, entries and leaderboards. Money is a decimal string."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

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
from tradepit.schemas.orders import PortfolioCurrency, PositionRead
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
    allow_shorts: bool = True
    allow_late_entry: bool = False
    hide_portfolios: bool = False
    allowed_instruments: list[Symbol] = Field(default_factory=list, max_length=500)
    allowed_venues: list[Venue] = Field(default_factory=list, max_length=10)


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
    name: Name
    description: Text = ""
    start_time: When
    end_time: When
    currency: Currency = "INR"
    starting_capital: Amount
    entry_fee: Fee = Decimal(0)
    prize_pool: Fee = Decimal(0)
    prize_split: list[Share] = Field(default_factory=list, max_length=100)
    max_participants: int | None = Field(default=None, ge=1, le=1_000_000)
    rules: TournamentRules = Field(default_factory=TournamentRules)


class TournamentUpdate(BaseModel):
    """Changes to a tournament that has not started; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Text | None = None
    start_time: When | None = None
    end_time: When | None = None
    starting_capital: Amount | None = None
    entry_fee: Fee | None = None
    prize_pool: Fee | None = None
    prize_split: list[Share] | None = Field(default=None, max_length=100)
    max_participants: int | None = Field(default=None, ge=1, le=1_000_000)
    rules: TournamentRules | None = None


class TournamentRead(BaseModel):
    """A tournament as anyone sees it."""

    id: int
    name: str
    description: str
    status: TournamentStatus
    currency: str
    start_time: datetime
    end_time: datetime
    starting_capital: Money
    entry_fee: Money
    prize_pool: Money
    prize_split: list[Money]
    max_participants: int | None
    participants: int
    rules: TournamentRules
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

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

    rank: int
    user_id: int
    username: str
    equity: Money
    pnl: Money
    roi: Money = Field(description="Return on the starting capital, %")
    win_rate: Money = Field(description="% of closed trades with a positive net P&L")
    trades: int
    max_drawdown: Money = Field(description="Deepest fall from a peak of equity, %")
    prize: Money | None = None
    closed_trades: int = Field(default=0, description="Fills that closed something")
    winning_trades: int = Field(default=0, description="Closing fills with a positive net P&L")


class LeaderboardRead(BaseModel):
    """A tournament's ranking: live while it runs, frozen once it has ended."""

    tournament_id: int
    status: TournamentStatus
    as_of: datetime
    final: bool
    entries: list[Standing]
    #: Entries on the whole board (``entries`` is one page of them when a page was asked for).
    total: int


class LeaderboardLine(Standing):
    """A line of ``GET /api/tournaments/{id}/leaderboard`` (a bare list, as the
    paper-tournaments frontend reads it): the standing, and the frontend's names for it as
    JSON numbers. ``total_trades`` counts the closing fills ``win_rate`` is of."""

    id: int = Field(description="The participant's user id")
    tournament_id: int
    total_pnl: float
    roi_percentage: float
    total_trades: int
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
    tournament_id: int
    user_id: int
    joined_at: datetime
    entry_fee_paid: bool = True
    is_active: bool = Field(description="The tournament has not ended")
    initial_balance: float = Field(description="The starting capital")
    current_balance: float = Field(description="Equity: cash plus positions, marked now")
    total_pnl: float
    pnl: float = Field(description="The same as total_pnl")
    rank: int | None


class ParticipantStatusRead(BaseModel):
    """``GET /api/tournaments/{id}/participant``: whether I joined, and my entry."""

    joined: bool
    userId: str  # noqa: N815 - the frontend's name
    participant: ParticipationRead | None = None


class EntryRead(BaseModel):
    """The caller's entry: when they joined and their isolated wallet."""

    tournament_id: int
    user_id: int
    joined_at: datetime
    entry_fee: Money
    wallet: WalletRead


class MyRankRead(BaseModel):
    """The caller's line of the leaderboard and how many take part."""

    tournament_id: int
    participants: int
    standing: Standing


class MyTournament(BaseModel):
    """A tournament the caller joined, with their standing in it."""

    tournament: TournamentRead
    standing: Standing | None


class ParticipantPortfolio(PortfolioCurrency):
    """A participant's portfolio in a tournament: the isolated wallet's cash, the positions'
    value and P&L, the equity (cash + positions value) and every position (open, and closed
    ones with their realized P&L), marked to the last price."""

    tournament_id: int
    user_id: int
    username: str
    positions: list[PositionRead]
