"""Every model, imported in one place so Alembic and the tests see the whole schema."""

from tradepit.store.audit import AuditEntry
from tradepit.store.base import Base
from tradepit.store.broadcasts import Broadcast, BroadcastTarget
from tradepit.store.broker_accounts import BrokerAccount, BrokerAccountVersion
from tradepit.store.candles import CandleRow
from tradepit.store.events import UserEventRow
from tradepit.store.feeds import FeedCredential
from tradepit.store.kite import KiteApp, KiteGtt, KiteRequestToken
from tradepit.store.orders import FillRow, OrderRow, PositionRow
from tradepit.store.predictions import Bet
from tradepit.store.row_locks import LockCooldown, RandomNumber, RowLock
from tradepit.store.tournaments import Tournament, TournamentEntry
from tradepit.store.users import ApiKey, LoginAttempt, RevokedToken, User, UserSettings
from tradepit.store.wallets import LedgerEntry, LedgerTransaction, Wallet

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Bet",
    "Broadcast",
    "BroadcastTarget",
    "BrokerAccount",
    "BrokerAccountVersion",
    "CandleRow",
    "FeedCredential",
    "FillRow",
    "KiteApp",
    "KiteGtt",
    "KiteRequestToken",
    "LedgerEntry",
    "LedgerTransaction",
    "LockCooldown",
    "LoginAttempt",
    "OrderRow",
    "PositionRow",
    "RandomNumber",
    "RevokedToken",
    "RowLock",
    "Tournament",
    "TournamentEntry",
    "User",
    "UserEventRow",
    "UserSettings",
    "Wallet",
    "metadata",
]
