"""The influencer portal's way in: one-time sign-in links a brand sends, the sessions
they open, and the record of both (docs/portal.md). No Flask here but in ``api.py``;
the pages are ``service.portal_site``."""
