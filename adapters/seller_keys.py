"""API keys of sellers whose systems register parcels: `msk.<mac>.<seller id>`.

The mac is an HMAC of the seller id under the mall's secret key, so a key names its seller
and needs no table; `mall seller-key <seller id>` issues one. Changing MALL_SECRET_KEY
replaces every seller's key (as it ends every sign-in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from domain.errors import Unauthorized

PREFIX = "msk"
SELLER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SellerKeys:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"seller-api-key\x00" + secret_key.encode()).digest()

    def _mac(self, seller_id: str) -> str:
        digest = hmac.new(self._key, seller_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, seller_id: str) -> str:
        if not SELLER_ID.match(seller_id):
            raise ValueError("a seller id is 1 to 64 letters, digits, '_', '.' or '-'")
        return f"{PREFIX}.{self._mac(seller_id)}.{seller_id}"

    def seller_of(self, key: str) -> str:
        """The seller a key belongs to; Unauthorized for anything else."""
        prefix, _, rest = key.partition(".")
        mac, _, seller_id = rest.partition(".")
        if prefix != PREFIX or not SELLER_ID.match(seller_id) or not hmac.compare_digest(
                mac.encode(), self._mac(seller_id).encode()):
            raise Unauthorized("this is not a seller API key of this mall: send "
                               "'Authorization: Bearer <key>' with the key the mall issued "
                               "(`mall seller-key <seller id>`)")
        return seller_id
