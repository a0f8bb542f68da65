"""Where the webhook endpoint (service/conversions/api.py) takes a delivery in: the
intake (service/conversions/intake.py) is the one path for live, spooled and replayed
deliveries."""

from __future__ import annotations

from service.conversions.intake import receive_delivery

__all__ = ["receive_delivery"]
