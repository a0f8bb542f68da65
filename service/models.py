"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from service.campaigns.models import Campaign, Partnership
from service.clicks.models import Click, ClickDaily
from service.commissions.models import CommissionDaily, CommissionLine
from service.conversions.models import (
    Conversion,
    ConversionDaily,
    ConversionEvent,
    WebhookDelivery,
)
from service.db import Base
from service.deliverables.models import Deliverable
from service.exports.models import Export
from service.influencers.models import Influencer, PlatformAccount
from service.keys.models import ApiKey
from service.links.models import Link
from service.promo_codes.models import PromoCode

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Campaign",
    "Click",
    "ClickDaily",
    "CommissionDaily",
    "CommissionLine",
    "Conversion",
    "ConversionDaily",
    "ConversionEvent",
    "Deliverable",
    "Export",
    "Influencer",
    "Link",
    "Partnership",
    "PlatformAccount",
    "PromoCode",
    "WebhookDelivery",
    "metadata",
]
