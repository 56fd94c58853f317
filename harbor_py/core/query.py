"""Harbor's `q=` and `sort=` query parameters, applied to querysets.

    q=name=~nginx,public=true,creation_time=[2024-01-01~2024-12-31],id={1 2 3},labels=(1 2)

Terms are separated by commas; a value is exact `v`, fuzzy `~v`, a range `[a~b]` (either
bound may be empty), any-of `{a b}` or all-of `(a b)`. Each view declares which keys it
accepts and how they map onto model fields; anything else is a 400, never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from harbor_py.core.errors import bad_request

MAX_TERMS = 20
MAX_LIST = 100


@dataclass(frozen=True)
class Term:
    key: str
    kind: str  # exact | fuzzy | range | any | all
    values: tuple[str, ...]


def _split_top_level(raw: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in raw:
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_query(raw: str | None) -> list[Term]:
    if not raw:
        return []
    items = _split_top_level(raw)
    if len(items) > MAX_TERMS:
        raise bad_request(f"too many query terms (at most {MAX_TERMS})")
    terms = []
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), unquote(value.strip())
        if not sep or not key:
            raise bad_request(f"invalid query term {item!r}: expected key=value")
        if value.startswith("~"):
            terms.append(Term(key, "fuzzy", (value[1:],)))
        elif value.startswith("[") and value.endswith("]"):
            low, tilde, high = value[1:-1].partition("~")
            if not tilde:
                raise bad_request(f"invalid range for {key}: expected [min~max]")
            terms.append(Term(key, "range", (low.strip(), high.strip())))
        elif value[:1] in "{(" and value[-1:] in "})":
            values = tuple(v for v in value[1:-1].split() if v)
            if not values or len(values) > MAX_LIST:
                raise bad_request(f"invalid list for {key}")
            terms.append(Term(key, "any" if value[0] == "{" else "all", values))
        else:
            terms.append(Term(key, "exact", (value,)))
    return terms


MAX_INT = 2**63 - 1  # PostgreSQL's bigint


def as_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{value!r} is not an integer") from None
    if not -MAX_INT <= number <= MAX_INT:
        raise bad_request(f"{value!r} is out of range")
    return number


def as_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{value!r} is not a boolean")


def as_time(value: str) -> dt.datetime:
    try:  # a well-formed impossible date (2020-02-30) raises ValueError
        parsed = parse_datetime(value)
        day = parse_date(value) if parsed is None else None
    except ValueError:
        raise bad_request(f"{value!r} is not a valid date or time") from None
    if parsed is None:
        if day is None:
            raise bad_request(f"{value!r} is not a date or time")
        parsed = dt.datetime.combine(day, dt.time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


@dataclass(frozen=True)
class Field:
    """How one q= key maps onto a queryset."""

    lookup: str
    cast: Callable[[str], Any] = str
    fuzzy: bool = True
    ranged: bool = False
    # For all-of terms over a to-many relation (e.g. labels): one filter per value.
    to_many: bool = False


def _condition(term: Term, field: Field) -> Q | list[Q]:
    if term.kind == "fuzzy":
        if not field.fuzzy:
            raise bad_request(f"{term.key} does not support fuzzy match")
        return Q(**{f"{field.lookup}__icontains": term.values[0]})
    if term.kind == "range":
        if not field.ranged:
            raise bad_request(f"{term.key} does not support ranges")
        low, high = term.values
        condition = Q()
        if low:
            condition &= Q(**{f"{field.lookup}__gte": field.cast(low)})
        if high:
            condition &= Q(**{f"{field.lookup}__lte": field.cast(high)})
        return condition
    if term.kind == "any":
        return Q(**{f"{field.lookup}__in": [field.cast(v) for v in term.values]})
    if term.kind == "all":
        return [Q(**{field.lookup: field.cast(v)}) for v in term.values]
    return Q(**{field.lookup: field.cast(term.values[0])})


def apply_query(
    queryset: QuerySet[Any], raw: str | None, fields: dict[str, Field]
) -> QuerySet[Any]:
    return apply_terms(queryset, parse_query(raw), fields)


def apply_terms(
    queryset: QuerySet[Any], terms: list[Term], fields: dict[str, Field]
) -> QuerySet[Any]:
    """apply_query for terms already parsed, e.g. after a view has taken out the keys it
    handles itself."""
    for term in terms:
        field = fields.get(term.key)
        if field is None:
            allowed = ", ".join(sorted(fields)) or "none"
            raise bad_request(f"unsupported query key {term.key!r} (supported: {allowed})")
        condition = _condition(term, field)
        if isinstance(condition, list):
            for part in condition:
                queryset = queryset.filter(part)
        else:
            queryset = queryset.filter(condition)
    return queryset.distinct() if any(f.to_many for f in fields.values()) else queryset


def apply_sort(
    queryset: QuerySet[Any], raw: str | None, fields: dict[str, str], default: list[str]
) -> QuerySet[Any]:
    """sort=a,-b over the keys in `fields` (key -> model field); a stable id tiebreak last."""
    order: list[str] = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        key = item.lstrip("-")
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise bad_request(f"unsupported sort key {key!r} (supported: {allowed})")
        order.append(("-" if descending else "") + fields[key])
    order = order or list(default)
    if "pk" not in order and "-pk" not in order:
        order.append("-pk" if order and order[0].startswith("-") else "pk")
    return queryset.order_by(*order)
