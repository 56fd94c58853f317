"""Sizes in the binary units the forms use (`control_forms.SizeField`)."""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(value: object) -> str:
    """Bytes with the binary units the forms use: "10 GiB" for an exact 10 GiB, else one
    decimal ("1.5 MiB"); a negative limit is "unlimited"."""
    try:
        number = int(value)  # type: ignore[call-overload]  # bytes as int, str or None
    except (TypeError, ValueError):
        return ""
    if number < 0:
        return gettext("unlimited")
    amount, unit = float(number), 0
    while amount >= 1024 and unit < len(BINARY_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    decimals = 0 if amount == int(amount) else 1
    return f"{number_format(round(amount, decimals), decimals)}\u00a0{BINARY_UNITS[unit]}"
