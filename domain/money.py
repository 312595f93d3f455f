"""Money in integer minor units of an ISO 4217 currency; never floats.

Pure: the currency table below is data, not a lookup in a library. Showing an amount to a
person in their locale is the edge's job; `str(Money)` is one plain form ("19.99 USD") for
error details and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from domain.errors import DomainError

# Every currency code CLDR knows (current and historic ISO 4217 codes), and the digits after
# the decimal point of those that have other than 2. Generated once from CLDR 47 through Babel
# 2.18 (`babel.core.get_global("all_currencies")`, `babel.numbers.get_currency_precision`);
# tests/unit/test_money.py checks it against the installed Babel. CLDR, not the ISO list,
# because it gives the digits people use: IQD, IRR, ... 0 where ISO 4217 still says 2 or 3.
_CODES = """
    ADP AED AFA AFN ALK ALL AMD ANG AOA AOK AON AOR ARA ARL ARM ARP ARS ATS AUD AWG AZM AZN
    BAD BAM BAN BBD BDT BEC BEF BEL BGL BGM BGN BGO BHD BIF BMD BND BOB BOL BOP BOV BRB BRC BRE
    BRL BRN BRR BRZ BSD BTN BUK BWP BYB BYN BYR BZD
    CAD CDF CHE CHF CHW CLE CLF CLP CNH CNX CNY COP COU CRC CSD CSK CUC CUP CVE CYP CZK
    DDM DEM DJF DKK DOP DZD
    ECS ECV EEK EGP ERN ESA ESB ESP ETB EUR
    FIM FJD FKP FRF
    GBP GEK GEL GHC GHS GIP GMD GNF GNS GQE GRD GTQ GWE GWP GYD
    HKD HNL HRD HRK HTG HUF
    IDR IEP ILP ILR ILS INR IQD IRR ISJ ISK ITL
    JMD JOD JPY
    KES KGS KHR KMF KPW KRH KRO KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LTL LTT LUC LUF LUL LVL LVR LYD
    MAD MAF MCF MDC MDL MGA MGF MKD MKN MLF MMK MNT MOP MRO MRU MTL MTP MUR MVP MVR MWK MXN MXP
    MXV MYR MZE MZM MZN
    NAD NGN NIC NIO NLG NOK NPR NZD
    OMR
    PAB PEI PEN PES PGK PHP PKR PLN PLZ PTE PYG
    QAR
    RHD ROL RON RSD RUB RUR RWF
    SAR SBD SCR SDD SDG SDP SEK SGD SHP SIT SKK SLE SLL SOS SRD SRG SSP STD STN SUR SVC SYP SZL
    THB TJR TJS TMM TMT TND TOP TPE TRL TRY TTD TWD TZS
    UAH UAK UGS UGX USD USN USS UYI UYP UYU UYW UZS
    VEB VED VEF VES VND VNN VUV
    WST
    XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XEU XFO XFU XOF XPD XPF XPT XRE XSU XTS XUA XXX
    YDD YER YUD YUM YUN YUR
    ZAL ZAR ZMK ZMW ZRN ZRZ ZWD ZWG ZWL ZWR
""".split()
_DIGITS_OTHER_THAN_TWO = {
    **dict.fromkeys("""
    ADP AFN ALL BIF BYR CLP DJF ESP GNF IQD IRR ISK ITL JPY KMF KPW KRW LAK LBP LUF MGA MGF
    MMK MRO PYG RSD RWF SLL SOS STD SYP TMM TRL UGX UYI VND VUV XAF XOF XPF YER ZMK ZWD
""".split(), 0),
    **dict.fromkeys("BHD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
EXPONENTS = MappingProxyType({code: _DIGITS_OTHER_THAN_TWO.get(code, 2) for code in _CODES})


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of `currency` (KRW 0, USD 2, BHD 3)."""
    exponent = EXPONENTS.get(currency.upper())
    if exponent is None:
        raise DomainError(f"'{currency}' is not an ISO 4217 currency code")
    return exponent


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise DomainError("money amounts are integers in the currency's minor unit")
        object.__setattr__(self, "currency", self.currency.upper())
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise DomainError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, for display only."""
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.decimal} {self.currency}"
