"""The lot-size calculator: the catalogue's contract rules applied to ``domain.lots``."""

from __future__ import annotations

from datetime import datetime

from tradepit.domain import lots
from tradepit.market.data import MarketData
from tradepit.schemas.calculator import CalculationCreate, CalculationRead, EntrySizeRead


def calculate(market: MarketData, body: CalculationCreate, now: datetime) -> CalculationRead:
    """Size each entry of ``body`` for the instrument it names, at ``now``."""
    instrument = market.instrument(body.symbol)
    rules = lots.lot_rules(instrument)
    sizing = lots.size(body.portfolio_size, body.risk_percent, body.stop_loss, body.entries, rules)
    return CalculationRead(
        symbol=instrument.symbol,
        currency=instrument.currency,
        contract_size=rules.contract_size,
        risk_amount=sizing.risk_amount,
        entries=[
            EntrySizeRead(entry_price=e.entry_price, lots=e.lots, risk_amount=e.risk_amount)
            for e in sizing.entries
        ],
        total_lots=sizing.total_lots,
        warnings=list(sizing.warnings),
        lot_size=sizing.total_lots,
        risk=sizing.risk_amount,
        stop_distance=abs(body.entries[0] - body.stop_loss),
        entry_price=body.entries[0],
        stop_loss=body.stop_loss,
        calculated_at=now,
    )
