"""The app includes its busiest routers first (a request walks the routes in order): that is
safe only while no two routers answer the same request, and the API document keeps the order
the routers are declared in."""

from __future__ import annotations

import re
from itertools import combinations, product

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

from tradepit.app import busiest_first, documented_routers

#: Values put in a path's parameters: numbers, words, a Kite exchange, a dotted symbol.
SAMPLES = ("1", "x", "NSE", "NIFTY24DEC", "BTC-USDT", "1.5")


def requests(route: APIRoute | APIWebSocketRoute) -> list[tuple[str, str]]:
    """Return (method, path) requests ``route`` answers, a sample value in each parameter."""
    methods = sorted(route.methods or ()) if isinstance(route, APIRoute) else ["WEBSOCKET"]
    paths = {re.sub(r"{[^}]+}", value, route.path_format) for value in SAMPLES}
    return list(product(methods, sorted(paths)))


def answers(route: APIRoute | APIWebSocketRoute, method: str, path: str) -> bool:
    if isinstance(route, APIRoute):
        return method in (route.methods or ()) and route.path_regex.fullmatch(path) is not None
    return method == "WEBSOCKET" and route.path_regex.fullmatch(path) is not None


def routes(router: APIRouter) -> list[APIRoute | APIWebSocketRoute]:
    return [r for r in router.routes if isinstance(r, APIRoute | APIWebSocketRoute)]


def test_no_two_routers_answer_the_same_request() -> None:
    routers = documented_routers()
    clashes = [
        f"{method} {path}: {mine.path} and {theirs.path}"
        for one, other in combinations(routers, 2)
        for mine in routes(one)
        for method, path in requests(mine)
        for theirs in routes(other)
        if answers(theirs, method, path)
    ]
    assert clashes == []


def test_the_check_finds_a_clash() -> None:
    one, other = APIRouter(), APIRouter()
    one.add_api_route("/api/things/{thing_id}", lambda thing_id: None)
    other.add_api_route("/api/things/x", lambda: None)
    mine = routes(one)[0]
    assert any(answers(mine, method, path) for method, path in requests(routes(other)[0]))


def test_every_router_is_included_once_busiest_first() -> None:
    routers = documented_routers()
    included = busiest_first(routers)
    assert sorted(map(id, included)) == sorted(map(id, routers))
    assert included[0] is not routers[0]  # the paper-trading orders lead, not sign-up


async def test_the_document_lists_paths_in_the_declared_order(app: FastAPI) -> None:
    declared = list(
        dict.fromkeys(
            route.path_format
            for router in documented_routers()
            for route in routes(router)
            if isinstance(route, APIRoute) and route.include_in_schema
        )
    )
    documented = [path for path in app.openapi()["paths"] if path in declared]
    assert documented == declared
