"""The server process around the ASGI app: connection limits and the worker supervisor."""
