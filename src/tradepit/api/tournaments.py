"""paper-tournaments' tournaments: the admin's side and the participants' side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from tradepit.api.deps import AdminDep, CallerDep, IdPath, SessionDep, WiringDep
from tradepit.domain.tournaments import TournamentStatus
from tradepit.schemas.tournaments import (
    EntryRead,
    LeaderboardRead,
    MyRankRead,
    MyTournament,
    ParticipantPortfolio,
    TournamentCreate,
    TournamentRead,
    TournamentUpdate,
)
from tradepit.services import leaderboards, tournament_runs, tournaments

router = APIRouter(tags=["tournaments"])

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


@router.post(
    "/api/admin/tournaments",
    status_code=status.HTTP_201_CREATED,
    summary="Create a tournament",
    responses=ADMIN_ERRORS,
)
async def create(
    body: TournamentCreate, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentRead:
    """Schedule a tournament; it starts and ends on its own at its times. Audited."""
    return await tournaments.create(session, wired.clock, wired.wall, caller, body)


@router.put("/api/admin/tournaments/{tournament_id}", summary="Change a tournament",
            responses=ADMIN_ERRORS)  # fmt: skip
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
             responses=ADMIN_ERRORS)  # fmt: skip
async def start(
    tournament_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> TournamentRead:
    """Start a scheduled tournament now. Audited."""
    return await tournament_runs.start(session, wired.clock, wired.wall, tournament_id, caller)


@router.post("/api/admin/tournaments/{tournament_id}/end", summary="End a tournament now",
             responses=ADMIN_ERRORS)  # fmt: skip
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
               responses=ADMIN_ERRORS)  # fmt: skip
async def delete(
    tournament_id: IdPath, caller: AdminDep, session: SessionDep, wired: WiringDep
) -> dict[str, Any]:
    """Delete a tournament that has not started; every entry fee is refunded. Audited."""
    refunded = await tournaments.delete(session, wired.clock, wired.wall, caller, tournament_id)
    return {"success": True, "id": tournament_id, "refunded_entries": refunded}


@router.get("/api/tournaments", summary="List tournaments", responses=ERRORS)
async def list_tournaments(
    caller: CallerDep,
    session: SessionDep,
    status_: Annotated[TournamentStatus | None, Query(alias="status")] = None,
) -> list[TournamentRead]:
    """Return the tournaments, soonest first, filtered by status."""
    return await tournaments.listing(session, status_)


@router.get("/api/tournaments/my/tournaments", summary="My tournaments", responses=ERRORS)
async def my_tournaments(
    caller: CallerDep, session: SessionDep, wired: WiringDep
) -> list[MyTournament]:
    """Return the tournaments I joined with my standing in each."""
    return await leaderboards.mine(session, wired.clock, wired.market, caller, wired.leaderboards)


@router.get("/api/tournaments/{tournament_id}", summary="A tournament", responses=ERRORS)
async def get(tournament_id: IdPath, caller: CallerDep, session: SessionDep) -> TournamentRead:
    """Return one tournament."""
    return await tournaments.get(session, tournament_id)


@router.post(
    "/api/tournaments/{tournament_id}/join",
    status_code=status.HTTP_201_CREATED,
    summary="Join a tournament",
    responses={**ERRORS, 409: {"description": "Started, full, joined already, or no funds"}},
)
async def join(
    tournament_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> EntryRead:
    """Pay the entry fee from my main wallet and get an isolated wallet with the starting
    capital; trade it with orders carrying ``tournament_id``."""
    return await tournaments.join(session, wired.clock, caller, tournament_id)


@router.get("/api/tournaments/{tournament_id}/leaderboard", summary="Leaderboard",
            responses=ERRORS)  # fmt: skip
async def leaderboard(
    tournament_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    wired: WiringDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> LeaderboardRead:
    """Return the ranking by return %: live while running, final once ended. Every entry,
    or with ``limit`` the page of entries after the first ``offset`` (``total`` counts them
    all)."""
    board = await leaderboards.leaderboard(
        session, wired.clock, wired.market, tournament_id, wired.leaderboards
    )
    if limit is None and not offset:
        return board
    end = None if limit is None else offset + limit
    return board.model_copy(update={"entries": board.entries[offset:end]})


@router.get("/api/tournaments/{tournament_id}/my-rank", summary="My rank", responses=ERRORS)
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
    },
)
async def participant_portfolio(
    tournament_id: IdPath, user_id: IdPath, caller: CallerDep, session: SessionDep, wired: WiringDep
) -> ParticipantPortfolio:
    """Return a participant's positions in the tournament (symbol, product, quantity, average
    price, last price, realized and unrealized P&L) with their cash and equity."""
    return await tournaments.participant_portfolio(
        session, wired.market, caller, tournament_id, user_id
    )
