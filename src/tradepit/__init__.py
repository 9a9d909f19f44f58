"""Tradepit: a self-hosted paper-trading backend."""

__version__ = "0.1.0"
