"""What the influencer sees in the portal (docs/portal.md, "What you see"): their
balance, links with QR codes, promo codes, campaigns, results, commissions, statements
and posts.

Every page needs a portal session and reads through ``service.portal.own`` only, scoped
by the signed-in influencer's id: another influencer's object is not found exactly as a
missing one is (the blueprint's 404 page, naming neither).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from service import clock
from service.commissions.ledger import STATUSES
from service.http.context import services, settings
from service.links.qr import qr_svg
from service.portal import access, own
from service.portal_site import auth, locale
from service.portal_site.blueprint import Unusable, bp
from service.portal_site.views import _page
from service.vocabulary import YEAR_MAX, YEAR_MIN, year_in_range

RESULT_DAYS = 30  # the days the results page shows unless asked (ADR)
HOME_DAYS = 7  # the days "latest results" on the home page sum
HOME_ORDERS = 5
PAGE_SIZE = 50
LANGUAGE_DAYS = 365  # how long the language chosen is remembered


def _me() -> str:
    influencer = auth.current_influencer()
    assert influencer is not None  # portal_login_required
    return influencer.id


def _campaign_names() -> dict[str, str]:
    with services().db.read_session() as s:
        return {c.id: c.name for c in own.campaigns_of(s, _me())}


def _today() -> date:
    return clock.now_utc().date()


@bp.route("/", methods=["GET"])
@auth.portal_login_required
def home() -> Response:
    """The balance per currency and the last days' results."""
    me, end = _me(), _today()
    start = end - timedelta(days=HOME_DAYS - 1)
    with services().db.read_session() as s:
        balances = own.balances(s, me)
        clicks = own.clicks_by_day(s, me, start, end)
        conversions = own.conversions_by_day(s, me, start, end)
        orders = own.orders_of(s, me, limit=HOME_ORDERS).items
    return _page(
        "portal/home.html",
        influencer=auth.current_influencer(),
        balances=balances,
        days=HOME_DAYS,
        clicks=sum(d.clicks for d in clicks),
        unique_clicks=sum(d.unique_clicks for d in clicks),
        conversions=sum(d.conversions for d in conversions),
        orders=orders,
        campaign_names=_campaign_names(),
    )


@bp.route("/links", methods=["GET"])
@auth.portal_login_required
def links() -> Response:
    with services().db.read_session() as s:
        found = own.links_of(s, settings(), _me())
    return _page("portal/links.html", links=found, campaign_names=_campaign_names())


@bp.route("/links/<link_id>/qr.svg", methods=["GET"])
@auth.portal_login_required
def link_qr(link_id: str) -> Response:
    """The QR code of one of the influencer's links (``?download=1``: as a file)."""
    with services().db.read_session() as s:
        link = own.link(s, settings(), _me(), link_id)
    headers = {}
    if request.args.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{link.code}.svg"'
    return Response(qr_svg(settings(), link.code), mimetype="image/svg+xml", headers=headers)


@bp.route("/codes", methods=["GET"])
@auth.portal_login_required
def codes() -> Response:
    with services().db.read_session() as s:
        found = own.codes_of(s, _me())
    return _page("portal/codes.html", codes=found, campaign_names=_campaign_names())


@bp.route("/campaigns", methods=["GET"])
@auth.portal_login_required
def campaigns() -> Response:
    with services().db.read_session() as s:
        found = own.campaigns_of(s, _me())
    return _page("portal/campaigns.html", campaigns=found)


@bp.route("/campaigns/<campaign_id>", methods=["GET"])
@auth.portal_login_required
def campaign(campaign_id: str) -> Response:
    """One campaign's terms for the influencer, with their links and codes in it."""
    me = _me()
    with services().db.read_session() as s:
        found = own.campaign(s, me, campaign_id)
        links = [x for x in own.links_of(s, settings(), me) if x.campaign_id == campaign_id]
        codes = [x for x in own.codes_of(s, me) if x.campaign_id == campaign_id]
    return _page("portal/campaign.html", campaign=found, links=links, codes=codes)


def _day_arg(name: str, default: date) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Unusable(_("Enter the days as year-month-day, such as 2026-09-30.")) from None
    if not year_in_range(day.year):
        raise Unusable(
            _(
                "Choose days between the years %(first)s and %(last)s.",
                first=YEAR_MIN,
                last=YEAR_MAX,
            )
        )
    return day


@bp.route("/results", methods=["GET"])
@auth.portal_login_required
def results() -> Response:
    """Clicks and orders per day over a range of days (the last 30 unless asked), and
    the orders, newest first, a page at a time."""
    me, today = _me(), _today()
    end = _day_arg("end", today)
    start = _day_arg("start", end - timedelta(days=RESULT_DAYS - 1))
    if end < start:
        raise Unusable(_("The last day is before the first day. Choose the first day first."))
    if (end - start).days + 1 > own.MAX_DAYS:
        raise Unusable(
            ngettext(
                "Choose at most %(num)s day at once.",
                "Choose at most %(num)s days at once.",
                own.MAX_DAYS,
            )
        )
    with services().db.read_session() as s:
        clicks = own.clicks_by_day(s, me, start, end)
        conversions = own.conversions_by_day(s, me, start, end)
        orders = own.orders_of(s, me, cursor=request.args.get("after"), limit=PAGE_SIZE)
    return _page(
        "portal/results.html",
        start=start,
        end=end,
        clicks=clicks,
        conversions=conversions,
        orders=orders,
        campaign_names=_campaign_names(),
    )


@bp.route("/commissions", methods=["GET"])
@auth.portal_login_required
def commissions() -> Response:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise Unusable(_("Choose one of the statuses shown on the page."))
    with services().db.read_session() as s:
        page = own.commissions(
            s, _me(), status=status, cursor=request.args.get("after"), limit=PAGE_SIZE
        )
        balances = own.balances(s, _me())
    return _page(
        "portal/commissions.html",
        chosen=status,
        statuses=STATUSES,
        page=page,
        balances=balances,
        campaign_names=_campaign_names(),
    )


@bp.route("/statements", methods=["GET"])
@auth.portal_login_required
def statements() -> Response:
    with services().db.read_session() as s:
        months = own.statements(s, _me())
    return _page("portal/statements.html", months=months)


@bp.route("/statements/<period>", methods=["GET"])
@auth.portal_login_required
def statement(period: str) -> Response:
    with services().db.read_session() as s:
        found = own.statement(s, _me(), period, cursor=request.args.get("after"), limit=PAGE_SIZE)
    return _page("portal/statement.html", statement=found, campaign_names=_campaign_names())


@bp.route("/statements/<period>/statement.csv", methods=["GET"])
@auth.portal_login_required
def statement_csv(period: str) -> Response:
    """The influencer's lines of the closed month's detail export, byte for byte."""
    with services().db.read_session() as s:
        body = own.statement_csv(s, _me(), period)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="statement-{period}.csv"'},
    )


@bp.route("/posts", methods=["GET"])
@auth.portal_login_required
def posts() -> Response:
    with services().db.read_session() as s:
        found = own.posts_of(s, _me())
    return _page("portal/posts.html", posts=found, campaign_names=_campaign_names())


@bp.route("/language", methods=["POST"])
def language() -> Response:
    """Write the pages in the chosen language from now on (the ``afftrack_lang``
    cookie), back on the page the choice was made on."""
    auth.check_csrf(signed_in=auth.current_influencer() is not None)
    chosen = request.form.get("lang", "")
    if chosen not in locale.SUPPORTED:
        raise Unusable(_("Choose one of the languages offered."))
    back = request.form.get("next", "")
    if not back.startswith(f"{auth.PATH}/") or back.startswith("//"):
        back = url_for("portal.home")
    if auth.current_influencer() is not None:  # their mails follow the choice
        with services().db.session() as s:
            access.set_language(s, g.portal_cookie, chosen)
    response = redirect(back, code=303)
    auth.set_cookie(response, locale.COOKIE, chosen, max_age=LANGUAGE_DAYS * 86400)
    return response
