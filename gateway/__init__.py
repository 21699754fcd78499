"""Gateways to field devices (outside ``engine/``: they need asyncio and sockets)."""
