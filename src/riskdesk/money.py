"""Money: an exact Decimal amount with its ISO 4217 currency.

A reseller's book mixes currencies and its arithmetic must be exact, so amounts are never
floats, every amount says which currency it is in, and adding two currencies is an error
rather than a silent conversion.

In the database an amount is stored as a whole number of *micros* (millionths of the
currency unit, see `riskdesk.db.types.Micros`): exact on SQLite and PostgreSQL alike and
fast to sum. `Money` is rounded to the currency's minor unit; the finer usage amounts the
provider rates are kept as micros until they are billed.

Limits. A BIGINT of micros holds ±9.2 × 10^12 currency units. riskdesk stores one amount
(an invoice, a payment, a usage line, an order, a credit limit) only when its magnitude is
below `MAX_AMOUNT` = 10^12 units (999,999,999,999.999999 at most) and refuses a larger one at
every entry point (typed, imported, pulled from the provider) with one error naming the
value and where it came from (`check_amount`). Why 10^12: the largest invoice of a reseller
in the currencies with the smallest units is far below it -- 10^12 IDR is about 60 million
USD, 10^12 VND about 40 million, 10^12 KRW about 700 million, 10^12 JPY about 6.5 billion --
and it leaves a factor of nine of headroom in BIGINT, so the per-row arithmetic of the book
(an invoice's total less what was paid plus what was applied later) cannot overflow. The
currencies whose unit is worth less still (IRR, LBP: 10^12 is about 1 to 10 million USD) are
the known limit.

Sums are not limited by BIGINT: a customer or the whole book may owe far more than one
amount. Every SQL sum over micros goes through `riskdesk.book._sql.safe_sum`, which adds the
whole units and the remainders separately (each part stays far inside BIGINT: the units of
up to 9.2 million maximal amounts) and joins them in Python, exactly, on SQLite (whose
integer SUM raises on overflow) and PostgreSQL (whose SUM(bigint) is NUMERIC, and the cast
back to BIGINT would raise) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor units. Currencies not listed have two decimals; unknown codes are refused.
_ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
_THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_TWO_DECIMAL = {
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHF",
    "CNY",
    "COP",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "UYU",
    "UZS",
    "VES",
    "WST",
    "XCD",
    "YER",
    "ZAR",
    "ZMW",
    "ZWL",
}
CURRENCIES: frozenset[str] = frozenset(_ZERO_DECIMAL | _THREE_DECIMAL | _TWO_DECIMAL)

MICROS_PER_UNIT = 1_000_000

#: The largest amount riskdesk stores is below this in magnitude (see the module docstring).
MAX_AMOUNT = Decimal(10) ** 12
MAX_MICROS = 10**18  # MAX_AMOUNT in micros; a stored amount's |micros| is below it


class CurrencyError(ValueError):
    """An unknown currency code, or arithmetic across two currencies."""


def minor_units(currency: str) -> int:
    """Number of decimals of `currency` (ISO 4217), e.g. 2 for EUR, 0 for JPY."""
    code = check_currency(currency)
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def finer_than_currency(amount: Decimal, currency: str) -> str | None:
    """Why `amount` cannot be an amount of `currency` (more decimals than its minor unit, such
    as 0.5 JPY or 0.0005 KWD), or None when it can. Such amounts are refused, never rounded:
    the one rule for amounts typed in and amounts imported."""
    code = check_currency(currency)
    places = minor_units(code)
    _, digits, exponent = amount.as_tuple()
    extra = -int(exponent) - places  # digits given beyond the minor unit
    if extra > 0 and any(digits[-extra:]):
        return (
            f"amount {amount} {code} is finer than {code} allows ({places} decimal"
            f"{'' if places == 1 else 's'})"
        )
    return None


class AmountRangeError(ValueError):
    """An amount larger than riskdesk stores (|amount| >= MAX_AMOUNT)."""


def beyond_limit(amount: Decimal, currency: str | None = None) -> str | None:
    """Why `amount` is too large for riskdesk to store, or None when it is not."""
    if amount.copy_abs() < MAX_AMOUNT:  # copy_abs: abs() overflows the context on 1e999999999
        return None
    code = f" {currency}" if currency else ""
    return (
        f"amount {amount}{code} is too large: riskdesk stores amounts below "
        f"{MAX_AMOUNT:,} in magnitude (at most 999,999,999,999.999999)"
    )


def check_amount(amount: Decimal | int | str, currency: str | None, where: str) -> Decimal:
    """`amount` as a Decimal, or AmountRangeError naming the value and `where` it came from
    (e.g. "payment 'BANK-1'", "invoice 'INV-9' from the provider") when it is too large."""
    value = to_decimal(amount)
    problem = beyond_limit(value, currency)
    if problem is not None:
        raise AmountRangeError(f"{where}: {problem}")
    return value


def check_currency(currency: str) -> str:
    """Return the code if it is a known ISO 4217 currency, else raise CurrencyError."""
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise CurrencyError(f"unknown currency {currency!r} (expected an ISO 4217 code)")
    return currency


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Convert exactly; floats are refused because they cannot hold money exactly."""
    if isinstance(value, (bool, float)):
        raise TypeError("money amounts must be Decimal, int or str, never float")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


def decimal_to_micros(amount: Decimal) -> int:
    """Whole micros, rounding half to even beyond the sixth decimal."""
    return int((amount * MICROS_PER_UNIT).to_integral_value(rounding=ROUND_HALF_EVEN))


def micros_to_decimal(micros: int) -> Decimal:
    return Decimal(int(micros)).scaleb(-6)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in one currency, rounded (half to even) to that currency's minor unit."""

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        code = check_currency(currency)
        quantum = Decimal(1).scaleb(-minor_units(code))
        rounded = to_decimal(amount).quantize(quantum, rounding=ROUND_HALF_EVEN)
        object.__setattr__(self, "amount", rounded)
        object.__setattr__(self, "currency", code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @property
    def micros(self) -> int:
        return decimal_to_micros(self.amount)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float | bool) or not isinstance(factor, Decimal | int):
            raise TypeError("Money can only be multiplied by a Decimal or an int")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency}"

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def allocate(self, ratios: list[int]) -> list[Money]:
        """Split into parts proportional to `ratios` that add up exactly to this amount."""
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise ValueError("ratios must be non-negative and not all zero")
        unit = Decimal(1).scaleb(-minor_units(self.currency))
        sign = -1 if self.amount < 0 else 1
        total_units = int(abs(self.amount) / unit)
        weight = sum(ratios)
        shares = [total_units * r // weight for r in ratios]
        for i in range(total_units - sum(shares)):
            shares[i % len(shares)] += 1
        return [Money(unit * s * sign, self.currency) for s in shares]


def total(amounts: list[Money], currency: str) -> Money:
    """Sum of amounts, all in `currency` (an empty list is zero)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


# ISO 3166-1 alpha-2 country -> the currency a reseller most likely bills in there. Used only
# when a customer arrives from the provider without one (Partner Center has no such field).
_EURO_AREA = {
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PT", "SI", "SK",
}  # fmt: skip
_COUNTRY_CURRENCY = {
    "US": "USD", "GB": "GBP", "CN": "CNY", "JP": "JPY", "AU": "AUD", "CA": "CAD", "CH": "CHF",
    "SE": "SEK", "NO": "NOK", "DK": "DKK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RO": "RON",
    "SG": "SGD", "HK": "HKD", "TW": "TWD", "KR": "KRW", "IN": "INR", "NZ": "NZD", "ZA": "ZAR",
    "BR": "BRL", "MX": "MXN", "AE": "AED", "SA": "SAR", "IL": "ILS", "TR": "TRY", "MY": "MYR",
    "TH": "THB", "ID": "IDR", "PH": "PHP", "VN": "VND",
}  # fmt: skip


def currency_for_country(country: str | None) -> str | None:
    """The usual billing currency for a country code, or None when unknown."""
    if not country:
        return None
    code = country.strip().upper()
    return "EUR" if code in _EURO_AREA else _COUNTRY_CURRENCY.get(code)


class MicrosToMoney(dict[int | None, Money]):
    """micros -> Money in one currency, memoised for one batch of rows
    (the customer facts, a run's open invoices).

    The facts build about a million Money values, many of them equal (zero, or an open balance
    that is also the exposure); a dict hit is far cheaper than building a Money, and Money is
    immutable, so equal amounts can share one object. `Money`'s constructor (check the code,
    quantize) is skipped for amounts that are already exact in the minor unit; finer amounts
    (rated usage) are rounded half to even, exactly as `Money` does.
    """

    __slots__ = ("currency", "places", "quantum", "step")

    def __init__(self, currency: str) -> None:
        super().__init__()
        zero = Money.zero(currency)
        self[None] = zero
        self[0] = zero
        self.currency = currency
        self.places = minor_units(currency)
        self.step = 10 ** (6 - self.places)  # micros per minor unit
        self.quantum = Decimal(1).scaleb(-self.places)

    def __missing__(self, micros: int) -> Money:
        whole, rest = divmod(micros, self.step)
        if rest:
            amount = Decimal(micros).scaleb(-6).quantize(self.quantum, rounding=ROUND_HALF_EVEN)
        else:
            amount = Decimal(whole).scaleb(-self.places)
        money = object.__new__(Money)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", self.currency)
        self[micros] = money
        return money
