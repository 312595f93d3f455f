"""The aiohttp application: storefront REST, provider webhooks, admin, health."""
