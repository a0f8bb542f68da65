"""An example of gunicorn settings of your own for afftrack.

``afftrack serve`` uses the settings shipped in the package (``service/gunicorn_conf.py``)
unless ``AFFTRACK_GUNICORN_CONFIG`` names a file like this one::

    AFFTRACK_GUNICORN_CONFIG=deploy/gunicorn.conf.py afftrack serve

Start from the packaged settings (their hooks included) and change what you need; most
knobs are also environment variables (see the table in ``service/gunicorn_conf.py``).
"""

from service.gunicorn_conf import *  # noqa: F403 - every packaged setting and hook

# Change what you need below, for example log each request to stdout:
# accesslog = "-"
