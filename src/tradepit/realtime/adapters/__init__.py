"""The real-time gateways' fast paths under uvicorn and Engine.IO: all the internals of each
library they use, in one module per library, pinned and probed, with the public path as their
fallback (``tradepit.libraries``)."""
