"""A real headless browser (Debian's chromium, driven through its chromium-driver by
Selenium) against the running app. Without chromium the browser tests are skipped; under
CI=true (or MALL_REQUIRE_SERVICES=1) they fail instead: .ci/run installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

DRIVER = os.environ.get("MALL_CHROMEDRIVER", "/usr/bin/chromedriver")
BROWSER = os.environ.get("MALL_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str:
    for path in (DRIVER, BROWSER):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return ""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true" or os.environ.get("MALL_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the browser tests need chromium: {missing}")
        pytest.skip(f"the browser tests need chromium: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
