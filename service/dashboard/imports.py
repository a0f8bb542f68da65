"""The CSV import page: choose a kind, download its template, upload a file for a dry
run (each row's outcome and problems, nothing written), then import it — all rows or
none — through ``service.imports``, the code behind ``afftrack import``.

The dry run's page carries the file's content (base64, in a hidden input of a form
protected like every other) to its Import button, so the file is not chosen twice; the
import reads it again from scratch, so what it writes never rests on the dry run."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, render_template, request
from werkzeug.exceptions import NotFound

from service.dashboard import login
from service.dashboard.blueprint import bp, changes
from service.errors import AfftrackError, InvalidInput
from service.forms import Form
from service.http.context import session, settings
from service.imports import KINDS, MAX_BYTES, MAX_ROWS, Plan, plan, run, template

F = TypeVar("F", bound=Callable[..., Any])

LABELS = {
    "influencers": "Influencers",
    "partners": "Partners (influencers enrolled in a campaign)",
    "links": "Tracking links",
    "promo-codes": "Promo codes",
}
KIND_OPTIONS = [(name, LABELS.get(name, name)) for name in KINDS]
# A request of this page carries the file once, or its base64 (4/3 of it) once.
UPLOAD_LIMIT = MAX_BYTES * 4 // 3 + 64 * 1024


def _uploads(view: F) -> F:
    """Let this view's request carry a whole import file (the API's bodies stop at
    1 MiB); set before the form is read, by the CSRF check."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = UPLOAD_LIMIT
        request.max_form_memory_size = UPLOAD_LIMIT
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.get("/import")
@login.login_required
def import_page() -> Any:
    kind = request.args.get("kind", "influencers")
    return _page(Form(values={"kind": kind if kind in KINDS else "influencers"}), None, 200)


@bp.get("/import/template/<kind>")
@login.login_required
def import_template(kind: str) -> Response:
    if kind not in KINDS:
        raise NotFound(f"There is no import of {kind!r}.")
    return Response(
        template(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="afftrack-{kind}.csv"'},
    )


@bp.post("/import/check")
@_uploads
@changes
def import_check() -> Any:
    form = _chosen()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.errors["file"] = ["Choose a CSV file to check."]
        return _page(form, None, 422)
    try:
        data = upload.stream.read(MAX_BYTES + 1)  # a longer file is refused for its size
    finally:
        upload.close()
    return _act(form, data, dry_run=True)


@bp.post("/import/run")
@_uploads
@changes
def import_run() -> Any:
    form = _chosen()
    try:
        data = base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        form.errors[""] = ["The file did not come through; choose it and check it again."]
        return _page(form, None, 422)
    return _act(form, data, dry_run=False)


def _chosen() -> Form:
    form = Form(values={"kind": request.form.get("kind", "")})
    if form.value("kind") not in KINDS:
        form.errors["kind"] = ["Choose what the file holds."]
    return form


def _act(form: Form, data: bytes, *, dry_run: bool) -> Any:
    if form.failed:
        return _page(form, None, 422)
    act = plan if dry_run else run
    try:
        result = act(session(), form.value("kind"), data, settings=settings())
    except AfftrackError as exc:
        session().rollback()
        form.refuse(InvalidInput(exc.message))  # the file as a whole: above the form
        return _page(form, None, 422)
    encoded = base64.b64encode(data).decode("ascii") if dry_run and result.ok else ""
    return _page(form, result, 200 if result.ok else 422, dry_run=dry_run, encoded=encoded)


def _page(
    form: Form, result: Plan | None, status: int, *, dry_run: bool = True, encoded: str = ""
) -> tuple[str, int]:
    page = render_template(
        "dashboard/import.html",
        form=form,
        result=result,
        dry_run=dry_run,
        encoded=encoded,
        kind_options=KIND_OPTIONS,
        labels=LABELS,
        max_bytes=MAX_BYTES,
        max_rows=MAX_ROWS,
    )
    return page, status
