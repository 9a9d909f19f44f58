"""Real-time gateways on the one ASGI app: native WebSocket ``/ws`` and Socket.IO."""
