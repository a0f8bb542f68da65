"""Tier from the largest follower count (docs/product.md §1). Pure."""

from __future__ import annotations

from collections.abc import Iterable

TIERS = ((1_000_000, "mega"), (100_000, "macro"), (10_000, "micro"), (1_000, "nano"))


def tier_for(follower_counts: Iterable[int]) -> str:
    largest = max(follower_counts, default=0)
    for threshold, name in TIERS:
        if largest >= threshold:
            return name
    return "emerging"
