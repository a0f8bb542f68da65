"""A link's QR code in the dashboard: shown on the page and downloaded as SVG or PNG,
drawn by ``service.links.qr`` as the API's ``/qr.svg`` and ``/qr.png`` are."""

from __future__ import annotations

from flask import abort, request
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from service.dashboard import login
from service.dashboard.blueprint import bp
from service.http.context import session, settings
from service.links.qr import qr_png, qr_svg
from service.links.schemas import QrQuery
from service.links.service import get_link
from service.vocabulary import QR_SCALE_MAX, QR_SCALE_MIN

_FORMATS = {"svg": ("image/svg+xml", qr_svg), "png": ("image/png", qr_png)}


@bp.get("/links/<link_id>/qr.<fmt>")
@login.login_required
def link_qr(link_id: str, fmt: str) -> Response:
    """``?download=1`` as a file named after the link's code; else shown in the page."""
    if fmt not in _FORMATS:
        abort(404, "QR codes come as .svg or .png")
    try:
        scale = QrQuery().load({k: v for k, v in request.args.items() if k == "scale"})["scale"]
    except ValidationError:
        abort(
            400, f"The size of the QR code is a whole number from {QR_SCALE_MIN} to {QR_SCALE_MAX}."
        )
    link = get_link(session(), link_id)
    media_type, draw = _FORMATS[fmt]
    headers = {"Cache-Control": "no-store"}
    if request.args.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{link.code}.{fmt}"'
    return Response(draw(settings(), link.code, scale), mimetype=media_type, headers=headers)
