"""Unsubscribing without signing in: the RFC 8058 one-click POST a mail client sends, and the
page a browser opens, which asks first."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e.conftest import Shop

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def _customer_with(shop: Shop, consents: dict[str, bool]) -> tuple[str, dict[str, str]]:
    auth = await shop.sign_up()
    response = await shop.client.put("/v1/me/consents", json={"consents": consents},
                                     headers=auth)
    assert response.status == 200, await response.text()
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    return str(me["id"]), auth


def _path(shop: Shop, customer_id: str, purpose: str) -> str:
    header = shop.container.unsubscribe_links().headers(customer_id, purpose)
    return urlsplit(header["List-Unsubscribe"].strip("<>")).path


async def _consents(shop: Shop, auth: dict[str, str]) -> dict[str, bool]:
    response = await shop.client.get("/v1/me/consents", headers=auth)
    return dict((await response.json())["consents"])


async def test_a_one_click_post_withdraws_the_consent_without_a_sign_in(shop: Shop) -> None:
    customer_id, auth = await _customer_with(shop, {"marketing_email": True,
                                                    "marketing_sms": True})
    path = _path(shop, customer_id, "marketing_email")
    response = await shop.client.post(path, data=ONE_CLICK)  # form-encoded, no credentials
    assert response.status == 200, await response.text()
    assert await response.json() == {"purpose": "marketing_email", "granted": False}
    assert await _consents(shop, auth) == {"marketing_email": False, "marketing_sms": True}
    again = await shop.client.post(path, data=ONE_CLICK)  # a client that retries
    assert again.status == 200


async def test_the_page_asks_then_its_button_withdraws_and_it_says_so(shop: Shop) -> None:
    customer_id, auth = await _customer_with(shop, {"marketing_sms": True})
    path = _path(shop, customer_id, "marketing_sms")
    page = await shop.client.get(path, headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = await page.text()
    assert "광고성 문자 메시지" in html and 'method="post"' in html
    assert await _consents(shop, auth) == {"marketing_sms": True}  # opening asks, nothing more
    pressed = await shop.client.post(path, data={**ONE_CLICK, "via": "page"},
                                     allow_redirects=False)
    assert pressed.status == 303 and pressed.headers["Location"] == path
    done = await shop.client.get(path)
    assert "You no longer receive promotional text messages" in await done.text()
    assert "<form" not in await done.text()
    assert await _consents(shop, auth) == {"marketing_sms": False}


async def test_an_altered_link_is_refused_and_changes_nothing(shop: Shop) -> None:
    customer_id, auth = await _customer_with(shop, {"marketing_push": True})
    path = _path(shop, customer_id, "marketing_push")
    altered = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    for response in (await shop.client.post(altered, data=ONE_CLICK),
                     await shop.client.get(altered)):
        assert response.status == 401
        assert "unsubscribe link" in (await response.json())["detail"]
    short = await shop.client.post("/v1/unsubscribe/abc", data=ONE_CLICK)
    assert short.status == 400
    assert await _consents(shop, auth) == {"marketing_push": True}
