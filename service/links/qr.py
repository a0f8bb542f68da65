"""A link's QR code: its short URL with the QR marker (``?qr=1``), drawn by segno.

A visitor who scans it lands on the same redirect as a click; the marker makes the
click count as a QR scan (``clicks.source = 'qr'``) and goes no further than afftrack
(docs/product.md §2).
"""

from __future__ import annotations

import io

import segno

from service.config import Settings
from service.links.service import short_url
from service.vocabulary import QR_MARKER, QR_SCALE_DEFAULT

# Medium error correction (15 % of the code may be lost), raised when the URL leaves
# room at the same size; the quiet zone is the standard four modules.
_ERROR = "m"
_BORDER = 4


def qr_url(settings: Settings, code: str) -> str:
    """What a link's QR code holds: the short URL, marked as scanned."""
    return f"{short_url(settings, code)}?{QR_MARKER}"


def _make(settings: Settings, code: str) -> segno.QRCode:
    return segno.make_qr(qr_url(settings, code), error=_ERROR, boost_error=True)


def qr_svg(settings: Settings, code: str, scale: int = QR_SCALE_DEFAULT) -> bytes:
    """The QR code as an SVG document, ``scale`` user units a module."""
    out = io.BytesIO()
    _make(settings, code).save(
        out, kind="svg", scale=scale, border=_BORDER, xmldecl=True, svgclass=None, lineclass=None
    )
    return out.getvalue()


def qr_png(settings: Settings, code: str, scale: int = QR_SCALE_DEFAULT) -> bytes:
    """The QR code as a black-and-white PNG, ``scale`` pixels a module."""
    out = io.BytesIO()
    _make(settings, code).save(out, kind="png", scale=scale, border=_BORDER)
    return out.getvalue()
