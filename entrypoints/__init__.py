"""What drives the use cases: the aiohttp app, the Dramatiq actors and worker, the CLI."""
