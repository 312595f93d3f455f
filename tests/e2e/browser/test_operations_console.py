"""The operations console in a real browser: an admin signs in, approves an order the fraud
screen held and sees it ship, resolves an incident, and verifies the evidence chain."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from application.transactions import commit_and_dispatch, open_incident
from domain.customers import Role
from tests.helpers import ORDER

pytestmark = pytest.mark.timeout(120)

BIG_ORDER = {**ORDER, "lines": [{**ORDER["lines"][0], "unit_price": 2_500_000, "quantity": 1}]}
ADMIN_EMAIL, ADMIN_PASSWORD = "ops-console@example.com", "console password 1"


def _drive(browser: Any, base: str, order_id: str, incident_id: str) -> dict[str, str]:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    def submit(button: Any) -> None:
        """Click, and wait for the page the form leads to (never read the old one)."""
        button.click()

        def left_behind(_: Any) -> bool:
            try:
                button.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as error:
                # Chrome's other word for a node of the page just left, when asked mid-way.
                if "does not belong to the document" in str(error):
                    return True
                raise
            return False

        WebDriverWait(browser, 30).until(left_behind)

    def text_of(element_id: str) -> str:
        found = WebDriverWait(browser, 30).until(
            shown.visibility_of_element_located((By.ID, element_id)))
        return str(found.text)

    seen: dict[str, str] = {}
    browser.delete_all_cookies()
    browser.get(f"{base}/ops")
    assert browser.current_url.endswith("/ops/sign-in"), browser.current_url
    browser.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    browser.find_element(By.ID, "password").send_keys("a wrong password")
    submit(browser.find_element(By.ID, "sign-in"))
    seen["refused"] = text_of("error")
    browser.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    browser.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    submit(browser.find_element(By.ID, "sign-in"))

    review = WebDriverWait(browser, 30).until(
        shown.presence_of_element_located((By.ID, f"review-{order_id}")))
    review.find_element(By.NAME, "note").send_keys("called the buyer")
    submit(review.find_element(By.CSS_SELECTOR, "button.approve"))
    seen["approved"] = text_of("notice")
    deadline = time.monotonic() + 30
    while not browser.find_elements(By.CSS_SELECTOR, "tr.shipment"):
        assert time.monotonic() < deadline, "the approved order never shipped"
        time.sleep(0.3)
        browser.refresh()
    seen["shipments"] = str(len(browser.find_elements(By.CSS_SELECTOR, "tr.shipment")))
    seen["order_status"] = text_of("order-status")
    submit(browser.find_element(By.ID, "verify"))
    seen["chain"] = text_of("chain-ok")

    browser.get(f"{base}/ops")
    incident = WebDriverWait(browser, 30).until(
        shown.presence_of_element_located((By.ID, f"incident-{incident_id}")))
    incident.find_element(By.NAME, "note").send_keys("Stripe recovered")
    submit(incident.find_element(By.CSS_SELECTOR, "button.resolve"))
    seen["resolved"] = text_of("notice")
    seen["still_listed"] = str(bool(browser.find_elements(By.ID, f"incident-{incident_id}")))
    return seen


@pytest.mark.parametrize("engine_name", ["sqlite"])
async def test_an_admin_approves_a_held_order_sees_it_ship_and_resolves_an_incident(
        shop: Any, browser: Any) -> None:
    await shop.container.accounts().register(ADMIN_EMAIL, ADMIN_PASSWORD, role=Role.ADMIN)
    auth = await shop.sign_up()
    order = await shop.place(auth, BIG_ORDER)  # a new account with a high-value order
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and operation["result"]["status"] == "authorized", operation
    async with shop.container.uow()() as uow:
        incident_id = await open_incident(
            uow, "provider_failure", "provider:stripe", {"error": "HTTP 503"},
            severity="critical", source="stripe", summary="stripe keeps failing")
        await commit_and_dispatch(uow, shop.container.queue())

    base = str(shop.client.make_url("/")).rstrip("/")
    seen = await asyncio.to_thread(_drive, browser, base, order["id"], incident_id)

    assert "wrong" in seen["refused"]
    assert seen["approved"].startswith("approved")
    assert int(seen["shipments"]) >= 1 and seen["order_status"] != "on_hold"
    assert seen["chain"].startswith("Verified")
    assert seen["resolved"] == f"incident {incident_id} resolved"
    assert seen["still_listed"] == "False"
    view = await shop.order(auth, order["id"])
    assert view["status"] != "on_hold" and view["shipments"]


async def test_the_console_refuses_forged_and_signed_out_changes(shop: Any) -> None:
    anonymous = await shop.client.get("/ops", allow_redirects=False)
    assert (anonymous.status, anonymous.headers["Location"]) == (303, "/ops/sign-in")
    await shop.container.accounts().register(ADMIN_EMAIL, ADMIN_PASSWORD, role=Role.ADMIN)
    signed = await shop.client.post("/ops/sign-in", data={
        "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, allow_redirects=False)
    assert signed.status == 303
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ops" in cookie
    forged = await shop.client.post("/ops/evidence/verify", data={"csrf": "0" * 32})
    assert forged.status == 403
    await shop.sign_up(email="not-an-admin@example.com")
    customer = await shop.client.post("/ops/sign-in", data={
        "email": "not-an-admin@example.com", "password": "correct horse battery"})
    assert customer.status == 403 and "no admin role" in await customer.text()
    page = await shop.client.get("/ops/sign-in")
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
