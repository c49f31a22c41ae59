"""Money: exact Decimal amounts, rounded to a currency's minor unit by one stated rule."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

ROUNDING_RULE = "half-even, per line, to the currency's minor unit"

# ISO 4217 currencies whose minor unit is not 2 digits; every other code has 2.
MINOR_UNIT_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal("0.01") for USD, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)


def zero(currency: str) -> Decimal:
    return minor_unit(currency) * 0
