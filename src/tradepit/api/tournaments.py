"""paper-tournaments' tournaments: the admin's side and the participants' side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from tradepit.api.deps import AdminDep, CallerDep, IdPath, SessionDep, TradingDep, WiringDep
from tradepit.api.dialects import SeedShapedRoute
from tradepit.api.examples import example
from tradepit.api.orders import place_order
from tradepit.domain.errors import InvalidInput
from tradepit.domain.tournaments import TournamentStatus
from tradepit.schemas.orders import OrderCreate, OrderRead, PnlRead, PositionRead
from tradepit.schemas.tournaments import (
    ENTRY,
    ENTRY_CLOSING,
    ENTRY_ORDER,
    ENTRY_ORDER_CANCELLED,
    LEADERBOARD,
    LEADERBOARD_LINE,
    MY_RANK,
    MY_TOURNAMENTS,
    PARTICIPANT,
    PARTICIPANT_PORTFOLIO,
    PARTICIPATION,
    TOURNAMENT,
    TOURNAMENT_DELETED,
    TOURNAMENT_ENDED,
    TOURNAMENT_PNL,
    TOURNAMENT_POSITION,
    TOURNAMENT_RUNNING,
    TOURNAMENT_UPDATED,
    EntryRead,
    LeaderboardLine,
    LeaderboardRead,
    MyRankRead,
    MyTournament,
    ParticipantPortfolio,
    ParticipantStatusRead,
    ParticipationRead,
    TournamentCreate,
    TournamentDeleted,
    TournamentRead,
    TournamentUpdate,
)
from tradepit.services import leaderboards, orders, tournament_runs, tournaments

router = APIRouter(tags=["tournaments"], route_class=SeedShapedRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    404: {"description": "No such tournament (or not joined)"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"description": "Terms that contradict themselves (end before start, split over 100)"},
    403: {"description": "Not an administrator"},
    409: {"description": "The tournament is not in a state that allows this"},
}
TOTAL = {"X-Total-Count": {"description": "Orders in all pages"}}
LISTED: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: example([TOURNAMENT_RUNNING, {**TOURNAMENT, "id": 2, "name": "Weekend crypto"}]),
}


@router.post(
    "/api/admin/tournaments",
    status_code=status.HTTP_201_CREATED,
    summary="Create a tournament",
    responses={**ADMIN_ERRORS, 201: example(TOURNAMENT)},
)
async def create(
    body: TournamentCreate, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentRead:
    """Schedule a tournament; it starts and ends on its own at its times. Audited."""
    return await tournaments.create(session, wired.clock, wired.wall, caller, body)


@router.put("/api/admin/tournaments/{tournament_id}", summary="Change a tournament",
            responses={**ADMIN_ERRORS, 200: example(TOURNAMENT_UPDATED)})  # fmt: skip
async def update(
    tournament_id: IdPath,
    body: TournamentUpdate,
    caller: AdminDep,
    session: SessionDep,
    wired: WiringDep,
) -> TournamentRead:
    """Change a tournament that has not started (its money terms only while nobody joined)."""
    return await tournaments.update(session, wired.clock, wired.wall, caller, tournament_id, body)


@router.post("/api/admin/tournaments/{tournament_id}/start", summary="Start a tournament now",
             responses={**ADMIN_ERRORS, 200: example(TOURNAMENT_RUNNING)})  # fmt: skip
async def start(
    tournament_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentRead:
    """Start a scheduled tournament now. Audited."""
    return await tournament_runs.start(session, wired.clock, wired.wall, tournament_id, caller)


@router.post("/api/admin/tournaments/{tournament_id}/end", summary="End a tournament now",
             responses={**ADMIN_ERRORS, 200: example(TOURNAMENT_ENDED)})  # fmt: skip
async def end(
    tournament_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentRead:
    """End a running tournament now: positions marked at the last price, ranks frozen, prizes
    paid. Audited."""
    return await tournament_runs.finish(
        session,
        wired.clock,
        wired.wall,
        wired.market,
        wired.matcher,
        wired.bus,
        tournament_id,
        caller,
    )


@router.delete("/api/admin/tournaments/{tournament_id}", summary="Delete a tournament",
               responses={**ADMIN_ERRORS, 200: example(TOURNAMENT_DELETED)})  # fmt: skip
async def delete(
    tournament_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentDeleted:
    """Delete a tournament that has not started; every entry fee is refunded. Audited."""
    refunded = await tournaments.delete(session, wired.clock, wired.wall, caller, tournament_id)
    return TournamentDeleted(success=True, id=tournament_id, refunded_entries=refunded)


@router.get("/api/tournaments", summary="List tournaments", responses=LISTED)
@router.get("/api/tournaments/", summary="List tournaments", responses=LISTED)
async def list_tournaments(
    caller: CallerDep,
    session: SessionDep,
    status_: Annotated[TournamentStatus | None, Query(alias="status")] = None,
    status_filter: Annotated[
        str | None,
        Query(
            max_length=20,
            description="The paper-tournaments frontend's filter: UPCOMING or "
            "REGISTRATION_OPEN (scheduled), ACTIVE (running), COMPLETED (ended), CANCELLED",
        ),
    ] = None,
) -> list[TournamentRead]:
    """Return the tournaments, soonest first, filtered by status."""
    wanted = tournaments.status_filter(status_filter) if status_filter else status_
    return await tournaments.listing(session, wanted)


@router.get(
    "/api/tournaments/my/tournaments",
    summary="My tournaments",
    responses={**ERRORS, 200: example(MY_TOURNAMENTS)},
)
async def my_tournaments(
    caller: CallerDep, session: SessionDep, wired: WiringDep
) -> list[MyTournament]:
    """Return the tournaments I joined with my standing in each."""
    return await leaderboards.mine(session, wired.clock, wired.market, caller, wired.leaderboards)


@router.get(
    "/api/tournaments/my-rankings",
    summary="My leaderboard lines",
    responses={**ERRORS, 200: example([LEADERBOARD_LINE])},
)
async def my_rankings(
    caller: CallerDep, session: SessionDep, wired: WiringDep
) -> list[LeaderboardLine]:
    """Return my line of the leaderboard of every tournament I joined, latest joined first
    (the paper-tournaments frontend's ``getMyRankings``)."""
    return await leaderboards.my_rankings(
        session, wired.clock, wired.market, caller, wired.leaderboards
    )


@router.get(
    "/api/tournaments/{tournament_id}",
    summary="A tournament",
    responses={**ERRORS, 200: example(TOURNAMENT_RUNNING)},
)
async def get(tournament_id: IdPath, caller: CallerDep, session: SessionDep) -> TournamentRead:
    """Return one tournament."""
    return await tournaments.get(session, tournament_id)


@router.post(
    "/api/tournaments/{tournament_id}/join",
    status_code=status.HTTP_201_CREATED,
    summary="Join a tournament",
    responses={
        **ERRORS,
        409: {"description": "Started, full, joined already, or no funds"},
        201: example(ENTRY),
    },
)
async def join(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> EntryRead:
    """Pay the entry fee from my main wallet and get an isolated wallet with the starting
    capital; trade it with orders carrying ``tournament_id``."""
    return await tournaments.join(session, wired.clock, caller, tournament_id)


async def _board(
    tournament_id: int,
    session: SessionDep,
    wired: WiringDep,
    limit: int | None,
    offset: int,
) -> LeaderboardRead:
    board = await leaderboards.leaderboard(
        session, wired.clock, wired.market, tournament_id, wired.leaderboards
    )
    if limit is None and not offset:
        return board
    end = None if limit is None else offset + limit
    return board.model_copy(update={"entries": board.entries[offset:end]})


Limit = Annotated[int | None, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
BOARD_HEADERS = {
    "X-Total-Count": {"description": "Entries on the whole board"},
    "X-Leaderboard-Status": {"description": "scheduled, running or ended"},
    "X-Leaderboard-Final": {"description": "true once ended: the frozen final standings"},
    "X-Leaderboard-As-Of": {"description": "When the board was marked (ISO 8601)"},
}


@router.get(
    "/api/tournaments/{tournament_id}/standings",
    summary="Leaderboard with its status",
    responses={**ERRORS, 200: example(LEADERBOARD)},
)
async def standings(
    tournament_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    limit: Limit = None,
    offset: Offset = 0,
) -> LeaderboardRead:
    """Return the ranking by return % with its status: live while running, final once ended
    (the shape of the ``leaderboard`` event). Every entry, or with ``limit`` the page of
    entries after the first ``offset`` (``total`` counts them all)."""
    return await _board(tournament_id, session, wired, limit, offset)


@router.get(
    "/api/tournaments/{tournament_id}/leaderboard",
    summary="Leaderboard",
    responses={**ERRORS, 200: example([LEADERBOARD_LINE], headers=BOARD_HEADERS)},
)
async def leaderboard(
    tournament_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    response: Response,
    limit: Limit = None,
    offset: Offset = 0,
) -> list[LeaderboardLine]:
    """Return the ranking by return % as a bare list (the paper-tournaments frontend reads
    it so), each line with the frontend's fields too; the board's status, finality and time
    are in the headers (and in ``.../standings``)."""
    board = await _board(tournament_id, session, wired, limit, offset)
    response.headers["X-Total-Count"] = str(board.total)
    response.headers["X-Leaderboard-Status"] = board.status.value
    response.headers["X-Leaderboard-Final"] = "true" if board.final else "false"
    response.headers["X-Leaderboard-As-Of"] = board.as_of.isoformat()
    return leaderboards.lines(board)


@router.get(
    "/api/tournaments/{tournament_id}/my-participation",
    summary="My entry",
    responses={**ERRORS, 200: example(PARTICIPATION)},
)
async def my_participation(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ParticipationRead:
    """Return my entry: starting and current balance (equity), P&L and rank; 404 NOT_JOINED."""
    return await leaderboards.participation(
        session, wired.clock, wired.market, caller, tournament_id, wired.leaderboards
    )


@router.get(
    "/api/tournaments/{tournament_id}/participant",
    summary="Whether I joined, and my entry",
    responses={**ERRORS, 200: example(PARTICIPANT)},
)
async def participant(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ParticipantStatusRead:
    """Return ``{"joined": false, "userId"}``, or ``joined`` with my entry."""
    return await leaderboards.participant_status(
        session, wired.clock, wired.market, caller, tournament_id, wired.leaderboards
    )


@router.get(
    "/api/tournaments/{tournament_id}/pnl",
    summary="My P&L in it",
    responses={**ERRORS, 200: example(TOURNAMENT_PNL)},
)
async def entry_pnl(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> PnlRead:
    """Return the P&L of my positions in the tournament: unrealised, realised, total."""
    return await tournaments.entry_pnl(session, wired.trading, wired.market, caller, tournament_id)


@router.get(
    "/api/tournaments/{tournament_id}/positions",
    summary="My positions in it",
    responses={**ERRORS, 200: example([TOURNAMENT_POSITION])},
)
async def entry_positions(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> list[PositionRead]:
    """Return my positions in the tournament (a bare list), marked to the last price."""
    return await tournaments.entry_positions(
        session, wired.trading, wired.market, caller, tournament_id
    )


@router.delete(
    "/api/tournaments/{tournament_id}/positions/{position_id}",
    summary="Close my position in it",
    responses={**ERRORS, 200: example(ENTRY_CLOSING)},
)
async def close_entry_position(
    tournament_id: IdPath,
    position_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
) -> OrderRead:
    """Close my position ``position_id`` in the tournament with a MARKET order."""
    await tournaments.my_entry(session, caller, tournament_id)
    return await orders.close_position_by_id(
        session,
        wired.clock,
        wired.market,
        wired.fees,
        wired.matcher,
        caller,
        position_id,
        tournament_id,
    )


@router.get(
    "/api/tournaments/{tournament_id}/orders",
    summary="My orders in it",
    responses={**ERRORS, 200: example([{**ENTRY_ORDER, "fills": None}], headers=TOTAL)},
)
async def entry_orders(
    tournament_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    trading: TradingDep,
    response: Response,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrderRead]:
    """Return my orders in the tournament (a bare list), newest first; ``X-Total-Count``
    counts every page."""
    await tournaments.my_entry(session, caller, tournament_id)
    found, total = await orders.history(
        trading,
        caller,
        status=None,
        symbol=None,
        page=page,
        limit=limit,
        tournament_id=tournament_id,
        session=session,
    )
    response.headers["X-Total-Count"] = str(total)
    return found


@router.post(
    "/api/tournaments/{tournament_id}/orders",
    status_code=status.HTTP_201_CREATED,
    summary="Place an order in it",
    responses={
        **ERRORS,
        400: {"description": "Invalid order or a tournament rule broken"},
        201: example(ENTRY_ORDER),
    },
)
async def place_entry_order(
    tournament_id: IdPath, body: OrderCreate, response: Response, caller: CallerDep,
    wired: WiringDep,
) -> OrderRead:  # fmt: skip
    """Place an order on my isolated wallet in the tournament: the same as ``POST
    /api/paper-trading/orders`` with ``"tournament_id"`` (placed as that route places it)."""
    if body.tournament_id not in (None, tournament_id):
        raise InvalidInput(
            f"the body names tournament {body.tournament_id}, the path {tournament_id}"
        )
    return await place_order(
        body.model_copy(update={"tournament_id": tournament_id}), response, caller, wired
    )


@router.delete(
    "/api/tournaments/{tournament_id}/orders/{order_id}",
    summary="Cancel my order in it",
    responses={**ERRORS, 200: example(ENTRY_ORDER_CANCELLED)},
)
async def cancel_entry_order(
    tournament_id: IdPath, order_id: IdPath, caller: CallerDep, session: SessionDep,
    wired: WiringDep,
) -> OrderRead:  # fmt: skip
    """Cancel an open order of mine in the tournament."""
    return await orders.cancel(
        session, wired.clock, wired.market, wired.matcher, caller, order_id, tournament_id
    )


@router.get(
    "/api/tournaments/{tournament_id}/my-rank",
    summary="My rank",
    responses={**ERRORS, 200: example(MY_RANK)},
)
async def my_rank(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> MyRankRead:
    """Return my line of the leaderboard."""
    return await leaderboards.my_rank(
        session, wired.clock, wired.market, caller, tournament_id, wired.leaderboards
    )


@router.get(
    "/api/tournaments/{tournament_id}/participants/{user_id}/portfolio",
    summary="A participant's portfolio",
    responses={
        **ERRORS,
        403: {
            "description": "PORTFOLIO_HIDDEN: the tournament hides portfolios until it ends "
            "(only the participant and administrators see them)"
        },
        404: {"description": "No such tournament, or the user has not joined it (NOT_JOINED)"},
        200: example(PARTICIPANT_PORTFOLIO),
    },
)
async def participant_portfolio(
    tournament_id: IdPath, user_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ParticipantPortfolio:
    """Return a participant's positions in the tournament (symbol, product, quantity, average
    price, last price, realized and unrealized P&L) with their cash and equity."""
    return await tournaments.participant_portfolio(
        session, wired.trading, wired.market, caller, tournament_id, user_id
    )
