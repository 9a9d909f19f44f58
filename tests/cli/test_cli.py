"""The ``tradepit`` command line, run in process against a temporary data directory."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import pytest
from bench.server import serving
from cryptography.fernet import Fernet
from sqlalchemy import text
from typer.testing import CliRunner, Result

from tradepit import __version__
from tradepit.cli import cli
from tradepit.store.db import create_engine
from tradepit.store.secrets import Secrets

COMMANDS = {
    "serve": "Start the server",
    "migrate": "Create or upgrade the database schema",
    "create-admin": "Create an administrator account",
    "backup": "Write a consistent copy",
    "check": "Check the books",
    "version": "Print the version",
}
SECRET_FILES = ["jwt_secret", "fernet_key"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return an empty data directory; run from a folder without a ``.env`` file."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "data"


def run(data_dir: Path, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
    """Invoke the command line with ``TRADEPIT_DATA_DIR`` pointing at ``data_dir``."""
    runner = CliRunner()
    return runner.invoke(
        cli,
        list(args),
        env={
            "TRADEPIT_DATA_DIR": str(data_dir),
            "TRADEPIT_DATABASE_URL": None,
            "TRADEPIT_REDIS_URL": None,
            # Cheap hashing: these tests are about the command line, not Argon2.
            "TRADEPIT_ARGON2_TIME_COST": "1",
            "TRADEPIT_ARGON2_MEMORY_COST_KIB": "1024",
            "TRADEPIT_ARGON2_PARALLELISM": "1",
            **(env or {}),
        },
    )


def create_admin(data_dir: Path, name: str = "boss", *extra: str) -> Result:
    """Run ``create-admin`` for ``name`` with a valid password."""
    return run(data_dir, "create-admin", "--username", name, "--password", "password123", *extra)


def users_in(database: Path) -> list[tuple[str, str]]:
    """Return (username, role) of every user in a SQLite file, read with the stdlib."""
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute("SELECT username, role FROM users ORDER BY id").fetchall()


def mode_of(path: Path) -> int:
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


class TestVersion:
    def test_prints_the_version(self, data_dir: Path) -> None:
        result = run(data_dir, "version")
        assert result.exit_code == 0
        assert result.stdout.strip() == __version__

    def test_touches_no_data(self, data_dir: Path) -> None:
        run(data_dir, "version")
        assert not data_dir.exists()


class TestHelp:
    def test_top_level_help_lists_every_command(self, data_dir: Path) -> None:
        result = run(data_dir, "--help")
        assert result.exit_code == 0
        assert "paper-trading backend" in result.stdout
        for command in COMMANDS:
            assert command in result.stdout

    @pytest.mark.parametrize(("command", "summary"), COMMANDS.items())
    def test_each_command_has_help(self, data_dir: Path, command: str, summary: str) -> None:
        result = run(data_dir, command, "--help")
        assert result.exit_code == 0, result.output
        assert "Usage: " in result.stdout and command in result.stdout
        assert summary in result.stdout
        assert not data_dir.exists()

    def test_create_admin_help_names_its_options(self, data_dir: Path) -> None:
        result = run(data_dir, "create-admin", "--help")
        for option in ("--username", "--password", "--email", "--superadmin"):
            assert option in result.stdout


class TestMigrate:
    def test_creates_the_sqlite_file(self, data_dir: Path) -> None:
        result = run(data_dir, "migrate")
        assert result.exit_code == 0, result.output
        database = data_dir / "tradepit.db"
        assert database.is_file()
        assert "migrated sqlite" in result.stdout
        with closing(sqlite3.connect(database)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"users", "wallets", "ledger_entries", "alembic_version"} <= tables

    def test_running_twice_is_harmless(self, data_dir: Path) -> None:
        assert run(data_dir, "migrate").exit_code == 0
        assert create_admin(data_dir).exit_code == 0
        assert run(data_dir, "migrate").exit_code == 0
        assert users_in(data_dir / "tradepit.db") == [("boss", "admin")]


class TestCreateAdmin:
    def test_creates_a_superadmin(self, data_dir: Path) -> None:
        result = create_admin(data_dir, "boss", "--superadmin")
        assert result.exit_code == 0, result.output
        assert "created superadmin 'boss'" in result.stdout
        assert users_in(data_dir / "tradepit.db") == [("boss", "superadmin")]

    def test_without_the_flag_creates_an_admin(self, data_dir: Path) -> None:
        result = create_admin(data_dir, "deputy")
        assert result.exit_code == 0, result.output
        assert "created admin 'deputy'" in result.stdout
        assert users_in(data_dir / "tradepit.db") == [("deputy", "admin")]

    def test_the_same_name_twice_fails_with_an_error(self, data_dir: Path) -> None:
        assert create_admin(data_dir, "boss", "--superadmin").exit_code == 0
        result = create_admin(data_dir, "boss", "--superadmin")
        assert result.exit_code == 1
        assert "error:" in result.stderr
        assert "already registered" in result.stderr
        assert "created" not in result.stdout
        assert users_in(data_dir / "tradepit.db") == [("boss", "superadmin")]

    def test_the_same_name_in_other_case_fails(self, data_dir: Path) -> None:
        assert create_admin(data_dir, "boss").exit_code == 0
        result = create_admin(data_dir, "BOSS")
        assert result.exit_code == 1
        assert "already registered" in result.stderr

    def test_a_weak_password_fails_with_an_error(self, data_dir: Path) -> None:
        result = run(data_dir, "create-admin", "--username", "boss", "--password", "short")
        assert result.exit_code == 1
        assert "error: password must be at least 8 characters" in result.stderr
        assert users_in(data_dir / "tradepit.db") == []

    def test_a_bad_username_fails_with_an_error(self, data_dir: Path) -> None:
        result = create_admin(data_dir, "no spaces")
        assert result.exit_code == 1
        assert "error: username must be 3-32 characters" in result.stderr

    def test_the_admin_gets_funded_wallets(self, data_dir: Path) -> None:
        assert create_admin(data_dir).exit_code == 0
        with closing(sqlite3.connect(data_dir / "tradepit.db")) as conn:
            balances = conn.execute(
                "SELECT currency, balance FROM wallets WHERE user_id IS NOT NULL"
            ).fetchall()
        assert ("INR", 100000 * 10**8) in balances


class TestBackup:
    def test_writes_a_readable_copy_with_progress(self, data_dir: Path) -> None:
        assert create_admin(data_dir, "boss", "--superadmin").exit_code == 0
        result = run(data_dir, "backup")
        assert result.exit_code == 0, result.output
        progress = [line for line in result.stdout.splitlines() if line.startswith("backup:")]
        assert progress
        assert progress[-1].endswith("(100%)")
        copies = list((data_dir / "backups").glob("tradepit-*.db"))
        assert len(copies) == 1
        assert f"backup written to {copies[0].resolve()}" in result.stdout
        with closing(sqlite3.connect(copies[0])) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert users_in(copies[0]) == [("boss", "superadmin")]

    def test_writes_to_the_given_output(self, data_dir: Path, tmp_path: Path) -> None:
        assert create_admin(data_dir).exit_code == 0
        target = tmp_path / "elsewhere" / "copy.db"
        result = run(data_dir, "backup", "--output", str(target))
        assert result.exit_code == 0, result.output
        assert users_in(target) == [("boss", "admin")]

    def test_without_a_database_fails(self, data_dir: Path) -> None:
        result = run(data_dir, "backup")
        assert result.exit_code == 1
        assert "error: no database at" in result.stderr

    def test_postgresql_gets_pg_dump_advice(self, data_dir: Path) -> None:
        url = "postgresql+asyncpg://trader:s3cret@db.example:5432/tradepit"
        result = run(data_dir, "backup", env={"TRADEPIT_DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        assert "pg_dump" in result.stdout
        assert "postgresql://trader:***@db.example:5432/tradepit" in result.stdout
        assert "s3cret" not in result.stdout
        assert not (data_dir / "backups").exists()


async def execute(database_url: str, sql: str) -> None:
    """Change the database behind Tradepit's back."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


class TestCheck:
    """``tradepit check`` on the test database (SQLite, and PostgreSQL when configured)."""

    def check(self, data_dir: Path, db: str) -> Result:
        return run(data_dir, "check", env={"TRADEPIT_DATABASE_URL": db})

    def test_a_consistent_database_balances(self, data_dir: Path, db: str) -> None:
        assert run(data_dir, "create-admin", "--username", "boss", "--password",
                   "password123", env={"TRADEPIT_DATABASE_URL": db}).exit_code == 0  # fmt: skip
        result = self.check(data_dir, db)
        assert result.exit_code == 0, result.output
        assert "ledger INR: entries sum to 0\n" in result.stdout
        assert "checked 4 wallets and 0 positions" in result.stdout  # cash, and capital's
        assert result.stdout.endswith("the books balance\n")

    def test_an_empty_database_balances(self, data_dir: Path, db: str) -> None:
        result = self.check(data_dir, db)
        assert result.exit_code == 0, result.output
        assert "checked 0 wallets and 0 positions" in result.stdout

    @pytest.mark.books_broken_on_purpose
    def test_a_corrupted_wallet_fails_and_is_named(self, data_dir: Path, db: str) -> None:
        assert run(data_dir, "create-admin", "--username", "boss", "--password",
                   "password123", env={"TRADEPIT_DATABASE_URL": db}).exit_code == 0  # fmt: skip
        asyncio.run(
            execute(db, "UPDATE wallets SET balance = balance - 100000000 "
                        "WHERE user_id IS NOT NULL AND currency = 'INR'")
        )  # fmt: skip
        result = self.check(data_dir, db)
        assert result.exit_code == 1, result.output
        assert "cash INR): balance 99999, entries sum to 100000\n" in result.stdout
        assert "the books do not balance" in result.stderr
        assert "the books balance" not in result.stdout

    @pytest.mark.books_broken_on_purpose
    def test_a_corrupted_posting_unbalances_the_currency(self, data_dir: Path, db: str) -> None:
        assert run(data_dir, "create-admin", "--username", "boss", "--password",
                   "password123", env={"TRADEPIT_DATABASE_URL": db}).exit_code == 0  # fmt: skip
        asyncio.run(execute(db, "UPDATE ledger_entries SET amount = amount + 1"))
        result = self.check(data_dir, db)
        assert result.exit_code == 1, result.output
        # Two entries (capital and cash) each 10⁻⁸ more: the transaction and INR are off.
        assert "ledger: INR sums to 0.00000002, not 0" in result.stdout
        assert "entries sum to 0.00000002" in result.stdout

    def test_without_a_database_fails_and_creates_none(self, data_dir: Path) -> None:
        result = run(data_dir, "check")
        assert result.exit_code == 2
        assert f"error: no database at {data_dir.resolve() / 'tradepit.db'}" in result.stderr
        assert not data_dir.exists()

    def test_an_unmigrated_database_is_an_error(self, data_dir: Path) -> None:
        data_dir.mkdir()
        sqlite3.connect(data_dir / "tradepit.db").close()
        result = run(data_dir, "check")
        assert result.exit_code == 2
        assert "error: cannot read the books in sqlite+aiosqlite:///" in result.stderr
        assert "no such table" in result.stderr


class TestSecrets:
    def test_are_created_with_mode_0600(self, data_dir: Path) -> None:
        assert run(data_dir, "migrate").exit_code == 0
        for name in SECRET_FILES:
            path = data_dir / "secrets" / name
            assert path.is_file()
            assert mode_of(path) == 0o600
            assert path.read_text().strip()

    def test_are_reused_on_a_second_start(self, data_dir: Path) -> None:
        assert run(data_dir, "migrate").exit_code == 0
        first = {name: (data_dir / "secrets" / name).read_text() for name in SECRET_FILES}
        assert run(data_dir, "migrate").exit_code == 0
        second = {name: (data_dir / "secrets" / name).read_text() for name in SECRET_FILES}
        assert first == second

    def test_secrets_object_creates_then_reuses(self, tmp_path: Path) -> None:
        first = Secrets(tmp_path)
        for name in SECRET_FILES:
            assert mode_of(tmp_path / "secrets" / name) == 0o600
        second = Secrets(tmp_path)
        assert second.jwt_secret == first.jwt_secret
        assert second.encryption_keys == first.encryption_keys
        assert len(first.jwt_secret) >= 64
        Fernet(first.encryption_keys[0].encode())  # a valid key

    def test_each_data_directory_has_its_own_secrets(self, tmp_path: Path) -> None:
        one, two = Secrets(tmp_path / "one"), Secrets(tmp_path / "two")
        assert one.jwt_secret != two.jwt_secret
        assert one.encryption_keys != two.encryption_keys

    def test_an_empty_secret_file_is_replaced(self, tmp_path: Path) -> None:
        folder = tmp_path / "secrets"
        folder.mkdir()
        (folder / "jwt_secret").write_text("\n")
        secrets = Secrets(tmp_path)
        assert secrets.jwt_secret
        assert (folder / "jwt_secret").read_text().strip() == secrets.jwt_secret
        assert mode_of(folder / "jwt_secret") == 0o600


class TestServeBanner:
    async def test_first_start_says_where_to_go_next_without_migration_noise(
        self, tmp_path: Path
    ) -> None:
        async with serving(tmp_path / "data", "banner") as server:
            said = server.output()
        assert f"API docs:  {server.base_url}/docs" in said
        assert f"console:   {server.base_url}/\n" in said
        assert "admin login: username 'admin', password '" in said
        assert "Next:" in said and "POST /api/paper-trading/orders" in said
        assert "TRADEPIT_MARKET_HOURS=always" in said and "(now: always)" in said
        assert "TRADEPIT_CLOCK_SPEED=60" in said
        assert "alembic" not in said


class TestOneServerPerFile:
    async def test_a_second_serve_on_the_same_sqlite_file_is_refused(self, data_dir: Path) -> None:
        """The embedded file has one server: a second `tradepit serve` on it says so in one
        line and exits 2 (it would write behind the first one's back); once the first has
        stopped, the file is free again."""
        async with serving(data_dir, "first"):
            # An address no interface has: were it not refused, it would fail, not hang.
            second = await asyncio.to_thread(run, data_dir, "serve", "--host", "203.0.113.1")
            assert second.exit_code == 2
            assert "another `tradepit serve` already serves" in second.output
            assert "tradepit.db: one process serves an embedded SQLite file" in second.output
        async with serving(data_dir, "again") as server:
            assert "Tradepit" in server.output()
