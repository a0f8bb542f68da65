"""The dashboard (``/dashboard``): server-rendered pages where the team runs the
programme, on the same domain services and schemas as the API.

``blueprint`` holds what every page shares (headers, error pages, the guard on
changes), ``login`` the session login with an API key, ``forms`` the bridge from HTML
forms to the API's schemas; ``views`` the campaign report pages, ``campaign_pages``
the campaigns' settings and partners, ``objective_pages`` their objectives,
``people`` the influencers, ``portal_access`` their
portal sign-in links, ``links`` and
``codes`` the tracked links and promo codes, ``qr_codes`` a link's QR code, ``posts``
the posts and their review, ``finance`` the commission ledger and the monthly exports,
``imports`` the CSV import, ``pickers`` the inputs that choose an influencer or a
campaign (and their suggestions), ``history`` the history list at the foot of an
object's page. ``charts`` draws the SVG chart on the server and ``display`` writes
figures for people. No single-page app and nothing fetched from a CDN: the pages
are HTML, one stylesheet and one small script, all served by afftrack itself.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from service.dashboard import (
        campaign_pages,
        codes,
        display,
        finance,
        history,
        imports,
        links,
        login,
        objective_pages,
        people,
        pickers,
        portal_access,
        posts,
        qr_codes,
        views,
    )
    from service.dashboard.blueprint import bp

    # imported for their routes (and history for its template helper)
    del campaign_pages, codes, finance, history, imports, links, objective_pages, people
    del pickers, portal_access, posts
    del qr_codes, views
    login.configure(app)
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        count=display.count,
        percent=display.percent,
        money=display.money,
        minor=display.minor,
    )
