"""The dashboard (``/dashboard``): server-rendered pages over the campaign report.

``views`` holds the pages, ``login`` the session login with an API key, ``charts`` the
SVG chart drawn on the server and ``display`` how figures are written for people. No
single-page app and nothing fetched from a CDN: the pages are HTML, one stylesheet and
one small script (the copy button), all served by afftrack itself.
"""
