"""What the Kite ticker sends: binary packets of the hub's ticks in each mode, and order
updates in Kite's shape (``realtime.kite_ticker`` is the transport)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradepit.domain.errors import DomainError
from tradepit.domain.kite import Level, PacketQuote, full_packet, ltp_packet, quote_packet
from tradepit.market.data import MarketData
from tradepit.schemas.orders import OrderRead
from tradepit.services.kite.trading import kite_order

MODES = ("ltp", "quote", "full")
_PACKERS = {"ltp": ltp_packet, "quote": quote_packet, "full": full_packet}


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def packet(market: MarketData, tick: dict[str, Any], token: int, mode: str) -> bytes:
    """Return the ``mode`` packet of a hub tick message for the instrument ``token``."""
    ltp = _decimal(tick.get("ltp"))
    opened = high = low = close = ltp
    if mode != "ltp":
        try:
            quote = market.quote(str(tick["symbol"]))
        except (DomainError, LookupError, ValueError):
            quote = None
        if quote is not None:
            opened, close = quote.open, quote.previous_close
            high, low = max(quote.high, ltp), min(quote.low, ltp)
    bid, ask = _decimal(tick.get("bid")), _decimal(tick.get("ask"))
    stamp = tick.get("timestamp")
    at = datetime.fromisoformat(str(stamp)) if stamp else None
    found = PacketQuote(
        token=token,
        ltp=ltp,
        open=opened,
        high=high,
        low=low,
        close=close,
        volume=_decimal(tick.get("volume")),
        average_price=ltp,
        oi=_decimal(tick.get("oi")),
        at=at,
        bids=[Level(Decimal(1), bid, 1)] if bid > 0 else [],
        asks=[Level(Decimal(1), ask, 1)] if ask > 0 else [],
    )
    return _PACKERS[mode](found)


def order_update(market: MarketData, username: str, event: dict[str, Any]) -> dict[str, Any] | None:
    """Return Kite's order update of a hub ``order`` event of ``username``'s (None: not a
    main-account order)."""
    snapshot = event.get("order")
    if not isinstance(snapshot, dict) or snapshot.get("tournament_id") is not None:
        return None
    try:
        order = OrderRead.model_validate(snapshot)
    except ValidationError:
        return None
    data = kite_order(market, username, order)
    data["unfilled_quantity"] = data["pending_quantity"]
    data["user_id"] = username
    return data
