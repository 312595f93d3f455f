"""Use cases of the mall's integrations and the ports they depend on."""
