"""A post the influencer submits at the portal (docs/portal.md): recorded through the
deliverables service as the API records one, ``submitted`` until the brand approves or
rejects it in the workspace.

Only for a campaign they are a partner in, on a platform of theirs; the form's one-time
token makes the same form sent twice record one post (ADR "posts and payout e-mail
requests from the portal").
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.campaigns.models import Partnership
from service.deliverables.models import Deliverable
from service.deliverables.service import create_deliverable
from service.errors import N_, InvalidInput
from service.forms import sent_token
from service.influencers.models import Influencer
from service.vocabulary import PLATFORMS

# The refusals the influencer reads beside the post form's inputs (``Words``: the portal
# writes them in the page's language).
NOT_A_PARTNER = N_("Choose one of the campaigns you are a partner in.")
NOT_THEIR_PLATFORM = N_("Choose one of your platforms.")


def platforms_of(influencer: Influencer) -> list[str]:
    """The platforms the influencer may post on: those of their accounts, or every
    platform when the brand recorded none."""
    theirs = {account.platform for account in influencer.platforms}
    return [p for p in PLATFORMS if p in theirs] or list(PLATFORMS)


def submission_key(influencer_id: str, once: str) -> str | None:
    """What a post sent with the one-time token ``once`` is stored under (None for a
    token that is not one of ours: the post is recorded without)."""
    token = sent_token(once)
    if token is None:
        return None
    return hashlib.sha256(f"{influencer_id}:{token}".encode()).hexdigest()


def _earlier(session: Session, key: str | None) -> Deliverable | None:
    if key is None:
        return None
    return session.scalar(select(Deliverable).where(Deliverable.submission_key == key))


def submit_post(
    session: Session, influencer: Influencer, data: dict[str, Any], once: str
) -> Deliverable:
    """Record ``data`` (loaded by ``DeliverableIn``; its ``influencer_id`` is ignored) as
    a post of ``influencer``. The same ``once`` again answers the post it recorded. A
    campaign they are not a partner in, or a platform not theirs, is refused (422) and
    nothing is stored. The caller commits."""
    key = submission_key(influencer.id, once)
    earlier = _earlier(session, key)
    if earlier is not None:
        return earlier
    problems: dict[str, list[str]] = {}
    partner = session.scalar(
        select(Partnership.id).where(
            Partnership.campaign_id == data["campaign_id"],
            Partnership.influencer_id == influencer.id,
        )
    )
    if partner is None:
        problems["campaign_id"] = [NOT_A_PARTNER]
    if data["platform"] not in platforms_of(influencer):
        problems["platform"] = [NOT_THEIR_PLATFORM]
    if problems:
        raise InvalidInput("the post cannot be recorded", fields=problems)
    try:
        return create_deliverable(session, {**data, "influencer_id": influencer.id}, key)
    except IntegrityError:
        # The same form sent twice at once: the other request recorded it.
        session.rollback()
        earlier = _earlier(session, key)
        if earlier is None:
            raise
        return earlier
