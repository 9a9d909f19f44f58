"""A running tournament's leaderboard recomputed from the entries kept in memory: after any
change the board is the one the database gives, and with nothing changed no query is made."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from tests.api.test_tournaments import app, create, join, order, scheduler
from tests.conftest import make_settings
from tests.factories import admin_headers, user_with_token
from tradepit.app import create_app
from tradepit.domain.tournaments import TournamentStatus
from tradepit.schemas.tournaments import LeaderboardRead, Standing
from tradepit.services import leaderboards
from tradepit.store import tournaments as store
from tradepit.store.db import create_engine
from tradepit.store.tournaments import BoardRow, Tournament
from tradepit.store.wallets import Wallet
from tradepit.trading.boards import Boards

__all__ = ["app"]  # the market clock at a weekday noon in Mumbai: NSE trades

ORDERS = "/api/paper-trading/orders"
Headers = dict[str, str]


def kept(app: FastAPI) -> Boards:
    """Return the app's running tournaments' entries (kept in memory in the tests' shape)."""
    memory: Boards | None = app.state.wiring.leaderboards.memory
    assert memory is not None
    return memory


async def boards(app: FastAPI, tournament_id: int) -> tuple[list[Standing], list[Standing]]:
    """Return the running board recomputed from memory, then from the database."""
    wired = app.state.wiring
    async with wired.sessionmaker() as session:
        t = await session.get(Tournament, tournament_id)
        assert t is not None
        memory = await leaderboards.live(session, wired.market, t, kept(app))
        database = await leaderboards.live(session, wired.market, t)
    return memory.lines, database.lines


def figures(lines: list[Standing]) -> list[tuple[Any, ...]]:
    """Return what a reader sees of each line, money in whole cents: the two ways sum the
    same floats in another order, so a cent may round apart (``assert_same`` allows it)."""
    return [
        (s.rank, s.user_id, s.username, s.trades, s.closed_trades, s.winning_trades,
         round(s.equity * 100), round(s.max_drawdown * 100))
        for s in lines
    ]  # fmt: skip


def assert_same(memory: list[Standing], database: list[Standing]) -> None:
    """Assert the two boards show the same lines, money within a cent."""
    assert len(memory) == len(database)
    for mine, theirs in zip(figures(memory), figures(database), strict=True):
        assert mine[:6] == theirs[:6]
        assert abs(mine[6] - theirs[6]) <= 1 and abs(mine[7] - theirs[7]) <= 1, (mine, theirs)


async def running(app: FastAPI, client: httpx.AsyncClient, users: int) -> tuple[int, list[Any]]:
    """Return a started tournament and ``users`` entrants (user, headers)."""
    _, admin = await admin_headers(app, client)
    t = await create(client, admin)
    entrants = [await user_with_token(client) for _ in range(users)]
    for _, headers in entrants:
        assert (await join(client, t["id"], headers)).status_code == 201
    started = await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
    assert started.status_code == 200, started.text
    return t["id"], entrants


async def trade(
    client: httpx.AsyncClient, tournament_id: int, headers: Headers, symbol: str, side: str
) -> None:
    body = order(tournament_id, symbol, side, "3")
    response = await client.post(ORDERS, json=body, headers=headers)
    assert response.status_code in (201, 400), response.text  # 400: a sale of nothing held


STEPS = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["TCS", "ITC"]), st.sampled_from(["BUY", "SELL"])),
    min_size=1,
    max_size=6,
)


class TestSameAsTheDatabase:
    @settings(
        max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(steps=STEPS)
    async def test_after_any_run_of_trades_the_board_is_the_databases(
        self, client: httpx.AsyncClient, app: FastAPI, steps: list[tuple[int, str, str]]
    ) -> None:
        tournament_id, entrants = await running(app, client, 3)
        for who, symbol, side in steps:
            await trade(client, tournament_id, entrants[who][1], symbol, side)
            memory, database = await boards(app, tournament_id)
            assert_same(memory, database)
            assert len(memory) == 3
        assert await kept(app).stale() == []

    async def test_the_schedulers_peaks_are_kept_and_trades_between_publishes_seen(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """The peak and drawdown a publish writes are kept as written (the teardown compares
        them with the database), and the board follows trades between publishes."""
        tournament_id, entrants = await running(app, client, 2)
        for (_, headers), side in zip(entrants, ("BUY", "BUY"), strict=True):
            await trade(client, tournament_id, headers, "TCS", side)
        await scheduler(app).publish(tournament_id)
        await trade(client, tournament_id, entrants[0][1], "TCS", "SELL")
        await scheduler(app).publish(tournament_id)
        memory, database = await boards(app, tournament_id)
        assert_same(memory, database)
        assert [s.trades for s in sorted(memory, key=lambda s: s.user_id)] == [2, 1]
        assert await kept(app).stale() == []


async def credit_behind_the_servers_back(db: str, tournament_id: int, user_id: int) -> None:
    """Add 5,000 to the user's tournament wallet as another program would: on its own
    connection, telling the server nothing."""
    other = create_engine(db)
    try:
        async with other.begin() as connection:
            await connection.execute(
                update(Wallet)
                .where(Wallet.user_id == user_id, Wallet.name == f"tournament:{tournament_id}")
                .values(balance=Wallet.balance + Decimal(5000))
            )
    finally:
        await other.dispose()


@pytest.mark.books_broken_on_purpose  # another program credits money no ledger entry holds
class TestNoQuery:
    async def test_with_nothing_changed_the_board_reads_no_database(
        self, client: httpx.AsyncClient, app: FastAPI, db: str
    ) -> None:
        tournament_id, entrants = await running(app, client, 2)
        await trade(client, tournament_id, entrants[0][1], "ITC", "BUY")
        first, _ = await boards(app, tournament_id)
        statements: list[str] = []
        engine = app.state.wiring.engine.sync_engine
        listener = event.listens_for(engine, "before_cursor_execute")(
            lambda *args: statements.append(args[2])
        )
        user = entrants[1][0]["id"]
        await credit_behind_the_servers_back(db, tournament_id, user)
        wired = app.state.wiring
        async with wired.sessionmaker() as session:
            t = await session.get(Tournament, tournament_id)
            assert t is not None
            statements.clear()
            again = await leaderboards.live(session, wired.market, t, kept(app))
            assert statements == []  # not even on the pool's connection
        event.remove(engine, "before_cursor_execute", listener)
        assert figures(again.lines) == figures(first)  # the credit is not seen: no read
        problems = await kept(app).stale()
        assert len(problems) == 1 and f"user {user} in memory" in problems[0]
        kept(app).changed({user})  # as a writer in this process would say
        memory, database = await boards(app, tournament_id)
        assert_same(memory, database)
        assert next(s for s in memory if s.user_id == user).equity == Decimal("1005000.00")

    async def test_only_an_entrants_change_is_read_again(
        self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another user's order (outside the tournament) costs the next recompute no query;
        an entrant's order costs one read of that entrant."""
        tournament_id, entrants = await running(app, client, 2)
        await boards(app, tournament_id)
        asked: list[list[int] | None] = []
        read = store.board_rows

        async def counted(*args: Any) -> list[BoardRow]:
            asked.append(args[3] if len(args) > 3 else None)
            return await read(*args)

        monkeypatch.setattr(store, "board_rows", counted)
        _, outsider = await user_with_token(client)
        main = {**order(tournament_id, "ITC", "BUY", "1"), "tournament_id": None}
        assert (await client.post(ORDERS, json=main, headers=outsider)).status_code == 201
        await boards(app, tournament_id)
        assert asked == [None]  # only the database's own board: memory read nothing
        await trade(client, tournament_id, entrants[0][1], "ITC", "BUY")
        asked.clear()
        memory, database = await boards(app, tournament_id)
        assert asked == [[entrants[0][0]["id"]], None]  # the entrant alone, then the database
        assert_same(memory, database)

    async def test_a_late_entrant_is_on_the_next_board(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A running tournament that allows late entries: someone who joins after its board
        was first kept is on the next board, and so are their trades."""
        _, admin = await admin_headers(app, client)
        t = await create(client, admin, rules={"allow_late_entry": True})
        early, early_headers = await user_with_token(client)
        assert (await join(client, t["id"], early_headers)).status_code == 201
        started = await client.post(f"/api/admin/tournaments/{t['id']}/start", headers=admin)
        assert started.status_code == 200, started.text
        memory, _ = await boards(app, t["id"])
        assert [s.user_id for s in memory] == [early["id"]]
        late, late_headers = await user_with_token(client)
        assert (await join(client, t["id"], late_headers)).status_code == 201
        memory, database = await boards(app, t["id"])
        assert {s.user_id for s in memory} == {early["id"], late["id"]}
        assert_same(memory, database)
        await trade(client, t["id"], late_headers, "ITC", "BUY")
        memory, database = await boards(app, t["id"])
        assert next(s for s in memory if s.user_id == late["id"]).trades == 1
        assert_same(memory, database)

    async def test_without_memory_every_board_reads_the_database(
        self, client: httpx.AsyncClient, app: FastAPI, db: str
    ) -> None:
        app.state.wiring.leaderboards.memory = None  # as on PostgreSQL: others write too
        tournament_id, entrants = await running(app, client, 1)
        url = f"/api/tournaments/{tournament_id}/standings"
        headers = entrants[0][1]
        first = (await client.get(url, headers=headers)).json()["entries"]
        assert first[0]["equity"] == "1000000"
        await credit_behind_the_servers_back(db, tournament_id, entrants[0][0]["id"])
        again = (await client.get(url, headers=headers)).json()["entries"]
        assert again[0]["equity"] == "1005000"


async def test_a_board_dumped_a_few_lines_per_loop_turn_is_the_whole_dump() -> None:
    lines = [
        Standing(
            rank=k + 1, user_id=k, username=f"trader{k}", equity=Decimal(1000 - k) / 7,
            pnl=Decimal(-k), roi=Decimal("0.1234"), win_rate=Decimal(50), trades=k,
            max_drawdown=Decimal("1.5"), prize=None, closed_trades=k // 2, winning_trades=k // 4,
        )
        for k in range(2 * leaderboards.LINES_PER_TURN + 7)
    ]  # fmt: skip
    board = LeaderboardRead(
        tournament_id=1, status=TournamentStatus.RUNNING, as_of=datetime(2026, 11, 26, tzinfo=UTC),
        final=False, entries=lines, total=len(lines),
    )  # fmt: skip
    dumped = await leaderboards.dumped(board)
    assert dumped == board.model_dump(mode="json")
    assert list(dumped) == list(board.model_dump(mode="json"))  # the fields' order too


@pytest.mark.parametrize("in_memory", [True, False])
async def test_entries_are_kept_only_where_the_trading_state_is(
    tmp_path: Path, db: str, in_memory: bool
) -> None:
    settings = make_settings(tmp_path / "data", db, trading_state_in_memory=in_memory)
    app = create_app(settings)
    try:
        memory = app.state.wiring.leaderboards.memory
        assert (memory is not None) is in_memory
    finally:
        await app.state.wiring.engine.dispose()
