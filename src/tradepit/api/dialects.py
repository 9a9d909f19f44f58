"""The ``/paper-tournaments`` prefix: the same API, answering orders and positions in the shape
paper-tournaments' own backend answered them (JSON numbers, upper-case statuses).

Where Tradepit's documented shape and the seed's use one name for different things (``status``
``"open"`` or ``"OPEN"``, ``price`` ``"26150.05"`` or ``26150.05``) one answer cannot carry
both, and the server does not guess which client asks: the client says so by the base URL it
is configured with (the frontend's ``NEXT_PUBLIC_API_URL``). A request under the prefix is
served as the same path without it, through every middleware (rate limits, CORS, body limit)
as that path; only the answers that are orders, positions or tournaments change
(``SeedShapedRoute``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from tradepit.domain.fills import quantity_step
from tradepit.market.data import MarketData
from tradepit.schemas.orders import OrderRead, PositionRead
from tradepit.schemas.paper_tournaments import seed_order, seed_position, seed_tournament
from tradepit.schemas.tournaments import TournamentRead
from tradepit.services.portfolio import instrument_type

#: The base path of paper-tournaments' shapes, and the scope key that marks such a request.
PAPER_TOURNAMENTS = "/paper-tournaments"
DIALECT = "tradepit.dialect"
_PREFIX = PAPER_TOURNAMENTS.encode()


class DialectPrefix:
    """Serve ``/paper-tournaments/<path>`` as ``/<path>``, marking the request's dialect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == PAPER_TOURNAMENTS or path.startswith(PAPER_TOURNAMENTS + "/")
        ):
            scope = dict(scope)
            scope["path"] = path.removeprefix(PAPER_TOURNAMENTS) or "/"
            raw: bytes | None = scope.get("raw_path")
            if raw is not None and raw.startswith(_PREFIX):
                scope["raw_path"] = raw.removeprefix(_PREFIX) or b"/"
            scope[DIALECT] = "paper-tournaments"
        await self.app(scope, receive, send)


def seed_shaped(request: Request) -> bool:
    """Tell whether the request came through the ``/paper-tournaments`` prefix."""
    return request.scope.get(DIALECT) == "paper-tournaments"


def _order(market: MarketData, order: OrderRead) -> dict[str, Any]:
    kind = instrument_type(market.instrument(order.symbol))
    return seed_order(order, instrument_type=kind).model_dump(mode="json")


def _position(market: MarketData, position: PositionRead) -> dict[str, Any]:
    step = quantity_step(market.instrument(position.symbol))
    return seed_position(position, lot_size=step).model_dump(mode="json")


Reshape = Callable[[MarketData, Any], Any]


def _reshaper(model: Any) -> tuple[TypeAdapter[Any], Reshape] | None:
    """Return how to read and reshape an answer of ``model``; None: it is not an order's or a
    position's answer."""
    if model is OrderRead:
        return TypeAdapter(OrderRead), _order
    if model == list[OrderRead]:
        return TypeAdapter(list[OrderRead]), lambda m, found: [_order(m, o) for o in found]
    if model == list[PositionRead]:
        # The seed's lists hold open positions only (its engine deletes a position at 0).
        return TypeAdapter(list[PositionRead]), lambda m, found: [
            _position(m, p) for p in found if p.quantity != 0
        ]
    if model is TournamentRead:
        return TypeAdapter(TournamentRead), lambda m, t: _tournament(t)
    if model == list[TournamentRead]:
        return TypeAdapter(list[TournamentRead]), lambda m, found: [_tournament(t) for t in found]
    return None


def _tournament(tournament: TournamentRead) -> dict[str, Any]:
    return seed_tournament(tournament).model_dump(mode="json")


class SeedShapedRoute(APIRoute):
    """A route whose order and position answers are paper-tournaments' shape for a request
    under the prefix: the answer Tradepit made is read back into its model and reshaped, its
    status and headers (``X-Total-Count``) kept; errors and every other answer pass as made."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        found = _reshaper(self.response_model)
        if found is None:
            return handler
        adapter, reshape = found

        async def route(request: Request) -> Response:
            response = await handler(request)
            if not seed_shaped(request) or not 200 <= response.status_code < 300:
                return response
            answer = adapter.validate_json(bytes(response.body))
            market: MarketData = request.app.state.wiring.market
            shaped = reshape(market, answer)
            body = json.dumps(shaped, ensure_ascii=False, separators=(",", ":")).encode()
            reshaped = Response(body, response.status_code, media_type="application/json")
            reshaped.raw_headers += [
                (key, value)
                for key, value in response.raw_headers
                if key not in (b"content-length", b"content-type")
            ]
            return reshaped

        return route
