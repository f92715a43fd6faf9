"""Durable ratings store (SQLAlchemy): SQLite in WAL mode by default, any SQLAlchemy URL
(e.g. ``postgresql+psycopg://...``) optionally.

Guarantees: one submitted trial is one transaction (its row in ``trial_results`` and all its
ratings, or nothing); a trial is written once per listener (primary key; a second submit is
refused, never overwrites); every write checks the listener's secret token (only its SHA-256 is
stored) so nobody can write under another listener's ID.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .config import DB_NAME

LISTENER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

metadata = sa.MetaData()
listeners = sa.Table(
    "listeners", metadata,
    sa.Column("listener_id", sa.String(64), primary_key=True),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("accepted_at", sa.String(40)),
    sa.Column("training_done_at", sa.String(40)),
)
trial_results = sa.Table(
    "trial_results", metadata,
    sa.Column("listener_id", sa.String(64), sa.ForeignKey("listeners.listener_id"), primary_key=True),
    sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),  # index in the listener's trial order
    sa.Column("started_at", sa.String(40)),
    sa.Column("submitted_at", sa.String(40), nullable=False),
    sa.Column("time_spent_s", sa.Float, nullable=False),
)
ratings = sa.Table(
    "ratings", metadata,
    sa.Column("listener_id", sa.String(64), primary_key=True),
    sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("condition", sa.String(128), primary_key=True),
    sa.Column("label", sa.String(8), nullable=False),  # the letter the listener saw
    sa.Column("score", sa.Float, nullable=False),
    sa.ForeignKeyConstraint(["listener_id", "trial_id"], ["trial_results.listener_id", "trial_results.trial_id"]),
)


class StorageError(ValueError):
    """A ratings database that cannot be used (shown to users as one line)."""


class AuthError(StorageError):
    """Unknown listener or wrong token."""


class ListenerExists(StorageError):
    pass


class AlreadySubmitted(StorageError):
    """This listener already submitted this trial; the stored ratings are kept."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_url(test_dir: Path) -> str:
    return f"sqlite:///{(Path(test_dir) / DB_NAME).resolve()}"


def make_engine(url: str) -> sa.Engine:
    """Engine with SQLite set up for concurrent listeners: WAL (readers never block the writer),
    a 30 s busy timeout, synchronous=FULL (a confirmed submit survives power loss) and
    ``BEGIN IMMEDIATE`` so each transaction takes the write lock up front instead of failing
    on a lock upgrade."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError, sa.exc.ArgumentError) as e:
        raise StorageError(
            f"cannot use database URL {url!r}: {e} (PostgreSQL needs a driver, e.g. `pip install psycopg` "
            "and a URL like postgresql+psycopg://user:password@host/dbname)") from e


@dataclass(frozen=True)
class ListenerState:
    listener_id: str
    accepted: bool
    training_done: bool
    completed: frozenset[str]


class RatingStore:
    """All reads and writes of ratings. Thread-safe (one connection per call)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)

    @classmethod
    def for_test(cls, test_dir: Path, url: str | None = None) -> "RatingStore":
        return cls(url or default_url(test_dir))

    # -- listeners ---------------------------------------------------------------------------
    def create_listener(self, listener_id: str) -> str:
        """Register ``listener_id``; return its new secret token (shown once, kept in the
        listener's resume link). Raises ListenerExists if the ID is taken."""
        if not LISTENER_ID.match(listener_id or ""):
            raise ValueError("listener ID: 1-64 characters, letters, digits, '.', '_' or '-'")
        token = secrets.token_urlsafe(18)
        try:
            with self.engine.begin() as c:
                c.execute(listeners.insert().values(listener_id=listener_id, token_sha256=_hash(token), created_at=_now()))
        except IntegrityError as e:
            raise ListenerExists(f"listener ID {listener_id!r} is already taken; use your personal link to resume") from e
        return token

    def _check(self, c, listener_id: str, token: str) -> sa.Row:
        row = c.execute(sa.select(listeners).where(listeners.c.listener_id == listener_id)).first()
        # compare digests in constant time; an unknown ID costs the same as a wrong token
        expected = row.token_sha256 if row is not None else _hash(secrets.token_hex(8))
        if not hmac.compare_digest(expected, _hash(token or "")) or row is None:
            raise AuthError("unknown listener ID or wrong token")
        return row

    def state(self, listener_id: str, token: str) -> ListenerState:
        with self.engine.connect() as c:
            row = self._check(c, listener_id, token)
            done = c.execute(sa.select(trial_results.c.trial_id).where(trial_results.c.listener_id == listener_id)).scalars()
            return ListenerState(listener_id, row.accepted_at is not None, row.training_done_at is not None, frozenset(done))

    def _stamp(self, listener_id: str, token: str, column: str) -> None:
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            c.execute(listeners.update().where(listeners.c.listener_id == listener_id).where(listeners.c[column].is_(None))
                      .values({column: _now()}))

    def accept(self, listener_id: str, token: str) -> None:
        self._stamp(listener_id, token, "accepted_at")

    def training_done(self, listener_id: str, token: str) -> None:
        self._stamp(listener_id, token, "training_done_at")

    # -- ratings -----------------------------------------------------------------------------
    def submit_trial(self, listener_id: str, token: str, trial_id: str, scores: dict[str, float],
                     labels: dict[str, str], position: int, time_spent_s: float, started_at: str | None = None) -> None:
        """Store one trial's ratings atomically. Raises AuthError, AlreadySubmitted or ValueError
        (a score outside 0..100, a condition without label); nothing is written then."""
        if not scores:
            raise ValueError("no ratings to store")
        for cond, s in scores.items():
            if not (0.0 <= float(s) <= 100.0):
                raise ValueError(f"score {s} for {cond} outside 0..100")
            if cond not in labels:
                raise ValueError(f"no label for condition {cond}")
        try:
            with self.engine.begin() as c:
                self._check(c, listener_id, token)
                c.execute(trial_results.insert().values(
                    listener_id=listener_id, trial_id=trial_id, position=int(position), started_at=started_at,
                    submitted_at=_now(), time_spent_s=float(time_spent_s)))
                c.execute(ratings.insert(), [
                    dict(listener_id=listener_id, trial_id=trial_id, condition=cond, label=labels[cond], score=float(s))
                    for cond, s in scores.items()
                ])
        except IntegrityError as e:
            raise AlreadySubmitted(f"trial {trial_id} was already submitted by {listener_id}; the stored ratings are kept") from e

    # -- admin / analysis --------------------------------------------------------------------
    def ratings_frame(self):
        """Raw ratings of completed trials: listener_id, trial_id, condition, label, score,
        position, started_at, submitted_at, time_spent_s."""
        import pandas as pd

        q = sa.select(
            ratings.c.listener_id, ratings.c.trial_id, ratings.c.condition, ratings.c.label, ratings.c.score,
            trial_results.c.position, trial_results.c.started_at, trial_results.c.submitted_at, trial_results.c.time_spent_s,
        ).join(trial_results, sa.and_(ratings.c.listener_id == trial_results.c.listener_id,
                                      ratings.c.trial_id == trial_results.c.trial_id)
               ).order_by(ratings.c.listener_id, trial_results.c.position, ratings.c.condition)
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        return pd.DataFrame(rows, columns=["listener_id", "trial_id", "condition", "label", "score", "position",
                                           "started_at", "submitted_at", "time_spent_s"])

    def progress(self, n_trials: int):
        """One row per listener: trials done out of ``n_trials``, dates."""
        import pandas as pd

        q = sa.select(
            listeners.c.listener_id, listeners.c.created_at, listeners.c.training_done_at,
            sa.func.count(trial_results.c.trial_id).label("trials_done"),
            sa.func.max(trial_results.c.submitted_at).label("last_submit"),
        ).select_from(listeners.outerjoin(trial_results)).group_by(
            listeners.c.listener_id, listeners.c.created_at, listeners.c.training_done_at).order_by(listeners.c.created_at)
        with self.engine.connect() as c:
            df = pd.DataFrame(c.execute(q).all(), columns=["listener_id", "created_at", "training_done_at",
                                                           "trials_done", "last_submit"])
        df["trials_total"] = n_trials
        df["complete"] = df["trials_done"] >= n_trials
        return df

    def dispose(self) -> None:
        self.engine.dispose()
