"""The tests' check of the books: the service the admin route and ``tradepit check`` run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tradepit.services import books


async def assert_books_balance(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Assert that every currency of the ledger sums to zero (every transaction too), every
    wallet equals its entries and every position its fills."""
    async with sessions() as session:
        report = await books.check(session)
    assert report.balanced, "\n".join(report.problems)
