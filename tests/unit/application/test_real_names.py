"""Korean real-name verification on fakes: one account per person, the CI sealed, the DI kept
only as a blind index."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from domain.errors import Conflict, SignInRefused
from tests.unit.application.harness import Mall, build_mall


async def test_a_verified_person_makes_the_account_verified_without_keeping_the_ci_plain(
        mall: Mall) -> None:
    customer = await mall.customer()
    mall.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    answer = await mall.container.real_names().verify(customer.id, "tok-ada")
    assert answer["verified"] is True and answer["adult"] is True
    assert (await mall.container.accounts().me(customer.id)).identity_verified
    [row] = mall.db.rows("real_names")
    assert "CI-ADA-0001" not in str(row) and "DI-ADA-0001" not in str(row)
    [evidence] = mall.db.evidence("kyc.verified")
    assert evidence.context == {"method": "real_name"}
    assert "CI-ADA" not in str(evidence.payload)


async def test_verifying_the_same_person_again_is_harmless(mall: Mall) -> None:
    customer = await mall.customer()
    mall.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    identities = mall.container.real_names()
    await identities.verify(customer.id, "tok-ada")
    await identities.verify(customer.id, "tok-ada")
    assert len(mall.db.rows("real_names")) == 1
    assert len(mall.db.evidence("kyc.verified")) == 1


async def test_one_person_has_one_account(mall: Mall) -> None:
    first, second = await mall.customer(), await mall.customer()
    mall.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    identities = mall.container.real_names()
    await identities.verify(first.id, "tok-ada")
    with pytest.raises(Conflict, match="already has an account"):
        await identities.verify(second.id, "tok-ada")
    assert not (await mall.container.accounts().me(second.id)).identity_verified


async def test_an_account_belongs_to_one_person(mall: Mall) -> None:
    customer = await mall.customer()
    mall.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    mall.real_names.person("tok-bob", ci="CI-BOB-0002", di="DI-BOB-0002")
    identities = mall.container.real_names()
    await identities.verify(customer.id, "tok-ada")
    with pytest.raises(Conflict, match="as another person"):
        await identities.verify(customer.id, "tok-bob")


async def test_a_token_the_service_does_not_honour_verifies_nothing(mall: Mall) -> None:
    customer = await mall.customer()
    with pytest.raises(SignInRefused):
        await mall.container.real_names().verify(customer.id, "tok-forged")
    assert mall.db.rows("real_names") == []


async def test_a_verified_identity_lifts_the_kyc_limit_on_large_orders(mall: Mall) -> None:
    customer = await mall.customer()
    big = [{"sku": "TV", "title": "Television", "seller_id": "seller-a", "quantity": 1,
            "unit_price": 10_000_001}]
    order = await mall.place(customer, lines=big)
    mall.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    await mall.container.real_names().verify(customer.id, "tok-ada")
    await mall.pay(customer, order)
    await mall.run_outbox()
    assert (await mall.order(order.id)).status.value == "paid"


async def test_a_key_rotation_reseals_every_ci_under_the_new_key(tmp_path: Path) -> None:
    keys = {"k1": base64.b64encode(b"1" * 32).decode(),
            "k2": base64.b64encode(b"2" * 32).decode()}
    index_key = base64.b64encode(b"i" * 32).decode()
    before = build_mall(tmp_path, data_keys=keys, data_key_id="k1", blind_index_key=index_key)
    customer = await before.customer()
    before.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    await before.container.real_names().verify(customer.id, "tok-ada")
    assert await before.container.real_names().rotate_keys() == 0  # nothing stale yet

    after = build_mall(tmp_path, db=before.db, data_keys=keys, data_key_id="k2",
                       blind_index_key=index_key)
    assert await after.container.real_names().rotate_keys() == 1
    [row] = after.db.rows("real_names")
    assert row["key_id"] == "k2"
    cipher = after.container.cipher()
    assert cipher.open(row["ci_ciphertext"], customer.id) == "CI-ADA-0001"
    assert await after.container.real_names().rotate_keys() == 0
    # The same person is still found by the blind index after the rotation.
    other = await after.customer()
    after.real_names.person("tok-ada", ci="CI-ADA-0001", di="DI-ADA-0001")
    with pytest.raises(Conflict, match="already has an account"):
        await after.container.real_names().verify(other.id, "tok-ada")
