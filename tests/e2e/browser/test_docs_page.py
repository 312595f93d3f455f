"""/docs renders the API reference in a real browser, with nothing fetched from elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(90)


def _render(browser: Any, url: str) -> tuple[str, list[str], list[str]]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    wait = WebDriverWait(browser, 30)
    title = wait.until(shown.visibility_of_element_located(
        (By.CSS_SELECTOR, ".swagger-ui .info .title"))).text
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    paths = [e.get_attribute("data-path") or e.text
             for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    return title, paths, list(loaded)


async def test_the_reference_renders_offline(shop: Any, browser: Any) -> None:
    base = str(shop.client.make_url("/")).rstrip("/")
    title, paths, loaded = await asyncio.to_thread(_render, browser, f"{base}/docs")
    assert title.startswith("Mall")
    assert "/v1/orders" in paths and "/v1/orders/{id}/payments" in paths
    assert loaded and all(url.startswith(base) for url in loaded), loaded
