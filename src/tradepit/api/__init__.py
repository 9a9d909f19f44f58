"""HTTP transport: FastAPI routers. A route parses, calls one service function, shapes the answer."""
