"""Kite Connect v3 on Tradepit: apps and logins (``apps``), the trading routes over the
paper-trading services (``trading``), market data by Kite's names and tokens (``market``)
and the ticker's packets (``ticker``)."""
