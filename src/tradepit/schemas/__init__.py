"""Pydantic shapes shared by the HTTP API, the WebSocket gateways and the services."""
