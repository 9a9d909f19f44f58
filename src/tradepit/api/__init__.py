"""HTTP transport: FastAPI routers.

A route parses, calls one service function and shapes the answer.
"""
