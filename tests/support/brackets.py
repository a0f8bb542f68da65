"""Marginal tiered brackets computed by hand, exactly, to check the engine against: a list
of ``(upper bound in minor units or None, rate as a Fraction)``."""

from __future__ import annotations

from fractions import Fraction

Brackets = list[tuple[int | None, Fraction]]


def by_hand(total: int, brackets: Brackets) -> Fraction:
    """The brackets over ``total`` minor units, exact (not rounded)."""
    exact, lower = Fraction(0), 0
    for upper, rate in brackets:
        top = total if upper is None else min(total, upper)
        if top > lower:
            exact += (top - lower) * rate
        if upper is None:
            break
        lower = upper
    return exact
