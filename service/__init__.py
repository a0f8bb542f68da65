"""afftrack: self-hosted affiliate and promo-code tracking for influencer marketing."""

__version__ = "0.1.0"
