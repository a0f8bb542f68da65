"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from service.audit.models import AuditEntry
from service.campaigns.models import Campaign, Partnership
from service.clicks.models import Click, ClickDaily, ClickMonthly
from service.commissions.models import CommissionDaily, CommissionLine, CommissionMonthly
from service.conversions.models import (
    Conversion,
    ConversionDaily,
    ConversionEvent,
    ConversionMonthly,
    WebhookDelivery,
)
from service.db import Base
from service.deliverables.models import Deliverable
from service.exports.models import Export
from service.influencers.models import Influencer, PlatformAccount
from service.keys.models import ApiKey
from service.links.models import Link
from service.objectives.models import Objective
from service.portal.models import PortalEvent, PortalInvite, PortalSession
from service.promo_codes.models import PromoCode
from service.submissions.models import FormSubmission

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Campaign",
    "Click",
    "ClickDaily",
    "ClickMonthly",
    "CommissionDaily",
    "CommissionLine",
    "CommissionMonthly",
    "Conversion",
    "ConversionDaily",
    "ConversionEvent",
    "ConversionMonthly",
    "Deliverable",
    "Export",
    "FormSubmission",
    "Influencer",
    "Link",
    "Objective",
    "Partnership",
    "PlatformAccount",
    "PortalEvent",
    "PortalInvite",
    "PortalSession",
    "PromoCode",
    "WebhookDelivery",
    "metadata",
]
