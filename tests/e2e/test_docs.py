"""/docs: the API reference page and every file it loads come from this server."""

from __future__ import annotations

import re
from typing import Any


async def test_the_reference_page_loads_only_from_this_server(shop: Any) -> None:
    page = await shop.client.get("/docs")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert loaded and all(url.startswith("/") for url in loaded), loaded  # no CDN
    for url in loaded:
        asset = await shop.client.get(url)
        assert asset.status == 200, url
        assert len(await asset.read()) > 0, url
    start = await (await shop.client.get("/docs/start.js")).text()
    assert '"/v1/openapi.json"' in start
    document = await shop.client.get("/v1/openapi.json")
    assert document.status == 200 and "/metrics" in (await document.json())["paths"]
