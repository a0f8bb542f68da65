"""Ids: 26 Crockford base-32 digits after the prefix, the time first, so ids sort in
the order they were made; a derived id is the same for the same key and moment."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from service.db import _CROCKFORD, _encode, derived_id


def _digits(number: int) -> str:
    """Base 32, most significant digit first, by repeated division."""
    out = ""
    for _ in range(26):
        number, rest = divmod(number, 32)
        out = _CROCKFORD[rest] + out
    return out


@given(st.integers(min_value=0, max_value=2**130 - 1))
def test_an_id_is_its_number_in_crockford_base_32(number: int) -> None:
    assert _encode("cml", number) == f"cml_{_digits(number)}"


@given(st.integers(min_value=0, max_value=2**130 - 1), st.integers(0, 2**130 - 1))
def test_ids_sort_as_their_numbers(a: int, b: int) -> None:
    assert (_encode("x", a) < _encode("x", b)) == (a < b)


def test_a_derived_id_is_the_same_for_the_same_key_and_moment() -> None:
    at = datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    first = derived_id("cml", at, "true_up:prt_1:0:2026-10:0")
    assert first == derived_id("cml", at, "true_up:prt_1:0:2026-10:0")
    assert first != derived_id("cml", at, "true_up:prt_1:0:2026-10:1")
    assert first.startswith("cml_") and len(first) == 30
