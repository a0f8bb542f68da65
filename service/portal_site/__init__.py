"""The influencer portal's pages (``/portal``): signing in with a one-time link, asking
for a new link by e-mail, signing out, and the home page the later pages hang from.

``auth`` holds the portal session cookie, the CSRF tokens and
``portal_login_required`` / ``current_influencer`` for every page; ``views`` the pages;
``pages`` what the influencer sees (read through ``service.portal.own``);
``formatting`` the filters writing money, dates and numbers in the page's language;
``requests`` what the influencer asks of the brand (a post, a payout e-mail change);
``locale`` the language a page is written in (Flask-Babel: the ``afftrack_lang``
cookie, else the browser's Accept-Language, else English). Every text a person reads
is marked for translation (``_()``, ``{% trans %}``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from service.portal_site import formatting, locale, pages, requests, views
    from service.portal_site.blueprint import bp

    del pages, requests, views  # imported for their routes
    locale.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(bp)
