"""Implementations of the ports: persistence, provider clients, queue, crypto, clocks."""
