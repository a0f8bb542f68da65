"""The first design a team would write: Flask + SQLAlchemy, one SELECT and one INSERT.

Per GET /r/<code>: look the link up by code, insert a click row, commit, 302. No cache,
no queue, default engine settings. Its own two tables (``naive_links``,
``naive_clicks``) live in the benchmark database next to afftrack's.

    BENCH_DATABASE_URL=postgresql+psycopg://... gunicorn ... bench.naive_app:app
    python bench/naive_app.py seed CODE DESTINATION   # create the tables and one link
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from flask import Flask, abort, redirect, request
from sqlalchemy import DateTime, ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.wrappers import Response

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/afftrack_bench"
)


class Base(DeclarativeBase):
    pass


class NaiveLink(Base):
    __tablename__ = "naive_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))


class NaiveClick(Base):
    __tablename__ = "naive_clicks"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("naive_links.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    referrer: Mapped[str | None] = mapped_column(String(1024))


engine = create_engine(DATABASE_URL)
app = Flask(__name__)


@app.get("/r/<code>")
def follow(code: str) -> Response:
    with Session(engine) as session:
        link = session.scalar(select(NaiveLink).where(NaiveLink.code == code))
        if link is None:
            abort(404)
        session.add(
            NaiveClick(
                link_id=link.id,
                created_at=datetime.now(UTC),
                ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", "")[:512],
                referrer=request.headers.get("Referer"),
            )
        )
        url = link.url  # read before commit, which expires it (no third query)
        session.commit()
        return redirect(url, 302)


def seed(code: str, url: str) -> None:
    """Create the tables (empty) and the one link the benchmark follows."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(NaiveLink(code=code, url=url))
        session.commit()


def clicks() -> int:
    """How many click rows were written."""
    from sqlalchemy import func

    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(NaiveClick)) or 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "seed":
        seed(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2 and sys.argv[1] == "count":
        print(clicks())
    else:
        sys.exit("usage: naive_app.py seed CODE URL | naive_app.py count")
