"""The pure model of the mall's integrations: no I/O, no framework."""
