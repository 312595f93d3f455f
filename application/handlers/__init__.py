"""Message handlers, one module per capability; application/bus.py registers them."""
