"""Pure trading logic: no I/O, no framework. Everything money-critical lives here."""
