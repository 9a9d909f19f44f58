"""Kite Connect v3's routes: apps under ``/api/kite/apps`` (Tradepit's JSON API), the login
page, and the routes the official ``kiteconnect`` client calls at the origin's root."""
