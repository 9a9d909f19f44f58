"""Market data: the instrument catalogue, exchange calendars, feeds and the simulator."""
