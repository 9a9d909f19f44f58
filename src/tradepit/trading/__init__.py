"""Trading's home: what users hold and what changes it (see docs/decisions.md, Trading engine)."""
