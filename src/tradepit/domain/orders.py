"""Orders: their kinds, sides, products, validity and the state machine they move through."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradepit.domain.errors import Conflict


class OrderType(StrEnum):
    """How the order is priced."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_MARKET = "STOP_LOSS_MARKET"


class Side(StrEnum):
    """Buy or sell."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """Return +1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1


class Product(StrEnum):
    """Intraday (MIS), delivery (CNC) or carry-forward derivatives (NRML)."""

    MIS = "MIS"
    CNC = "CNC"
    NRML = "NRML"


class Validity(StrEnum):
    """How long the order lives: the session, immediate-or-cancel, or until cancelled."""

    DAY = "DAY"
    IOC = "IOC"
    GTC = "GTC"


class Status(StrEnum):
    """Where an order is in its life."""

    AMO = "amo"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """Tell whether the order can change no more."""
        return self in _FINAL


_FINAL = frozenset({Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED})
#: The statuses of an order that may still fill (open, partially filled, after-market), as
#: stored: every one that is not final.
RESTING = tuple(sorted(status.value for status in Status if status not in _FINAL))


class IllegalTransition(Conflict):
    """The order cannot move from its state to the one asked for."""

    code = "ORDER_STATE"


#: The moves an order may make; everything else is refused.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.AMO: frozenset({Status.OPEN, Status.CANCELLED, Status.REJECTED, Status.EXPIRED}),
    Status.OPEN: frozenset(
        {Status.PARTIALLY_FILLED, Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED}
    ),
    Status.PARTIALLY_FILLED: frozenset(
        {Status.PARTIALLY_FILLED, Status.FILLED, Status.CANCELLED, Status.EXPIRED}
    ),
}


def transition(current: Status, target: Status) -> Status:
    """Return ``target`` if an order in ``current`` may move there; refuse otherwise."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"an order that is {current.value} cannot become {target.value}")
    return target


@dataclass(frozen=True)
class Fill:
    """One execution: quantity at a price, with its charges (in the instrument's currency)."""

    quantity: Decimal
    price: Decimal
    charges: Decimal = Decimal(0)
