"""mt5-copier's lot-size calculator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tradepit.api.deps import CallerDep, WiringDep
from tradepit.api.examples import example
from tradepit.schemas.calculator import CALCULATION, CalculationCreate, CalculationRead
from tradepit.services import calculator

router = APIRouter(prefix="/api", tags=["broker accounts"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Stop at an entry, entries on both sides of the stop"},
    401: {"description": "Not logged in"},
    404: {"description": "Unknown symbol"},
}


@router.post(
    "/calculate",
    summary="Lot sizes for a risk",
    responses={**ERRORS, 200: example(CALCULATION)},
)
async def calculate(
    body: CalculationCreate, caller: CallerDep, wired: WiringDep
) -> CalculationRead:
    """Split ``riskPercent`` of ``portfolioSize`` across the entries and return each entry's
    lots (rounded down to the lot step, within the minimum and maximum lot) and what it loses
    at the stop. An entry raised to the minimum lot risks more than asked and is warned.
    mt5-copier's ``lotSize``, ``riskAmount``, ``stopDistance``, ``entryPrice``, ``stopLoss``
    and ``calculatedAt`` are there too, as numbers."""
    return calculator.calculate(wired.market, body, wired.wall.now())
