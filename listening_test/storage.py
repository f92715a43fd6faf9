"""Durable ratings store (SQLAlchemy): SQLite in WAL mode by default, any SQLAlchemy URL
(e.g. ``postgresql+psycopg://...``) optionally.

Guarantees: one submitted trial is one transaction (its row in ``trial_results`` and all its
ratings, or nothing); a trial is written once per listener (primary key; a second submit is
refused, never overwrites); every write checks the listener's secret token (only its SHA-256 is
stored) so nobody can write under another listener's ID.

Besides the ratings it keeps what must never be served: each listener's assignment (trial
subset, order and letters: the blinding), their headphone screening (plan, answers, result),
where they came from (self-registered, admin link, Prolific), per-signal playback of each
submitted trial, and failed admin logins (for the guess limit). Schema changes only add tables,
so a database written by an older version keeps working.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .assignment import Assignment
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
listener_meta = sa.Table(
    "listener_meta", metadata,
    sa.Column("listener_id", sa.String(64), sa.ForeignKey("listeners.listener_id"), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),  # self | admin | prolific
    sa.Column("study_id", sa.String(64)),  # Prolific STUDY_ID (not secret; SESSION_ID is the hashed token)
    sa.Column("token_issued_at", sa.String(40)),
    sa.Column("reissued", sa.Integer, nullable=False, default=0),
)
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("listener_id", sa.String(64), sa.ForeignKey("listeners.listener_id"), primary_key=True),
    sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # rated | training
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("letters", sa.Text, nullable=False),  # JSON: letter -> condition id
    sa.Column("assigned_at", sa.String(40), nullable=False),
)
screenings = sa.Table(
    "screenings", metadata,
    sa.Column("listener_id", sa.String(64), sa.ForeignKey("listeners.listener_id"), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("plan", sa.Text, nullable=False),  # JSON ScreeningPlan: target positions and seeds
    sa.Column("answers", sa.Text, nullable=False, default="[]"),  # JSON list of chosen intervals
    sa.Column("correct", sa.Integer),
    sa.Column("passed", sa.Boolean),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
)
playback = sa.Table(
    "playback", metadata,
    sa.Column("listener_id", sa.String(64), primary_key=True),
    sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("condition", sa.String(128), primary_key=True),
    sa.Column("played", sa.Boolean, nullable=False),
    sa.Column("seconds_listened", sa.Float, nullable=False),
    sa.ForeignKeyConstraint(["listener_id", "trial_id"], ["trial_results.listener_id", "trial_results.trial_id"]),
)
admin_attempts = sa.Table(
    "admin_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("ok", sa.Boolean, nullable=False),
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
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


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


class UnknownListener(StorageError):
    """Admin operations on a listener ID that does not exist (never shown to listeners)."""


@dataclass(frozen=True)
class ListenerState:
    listener_id: str
    accepted: bool
    training_done: bool
    completed: frozenset[str]
    source: str = "self"
    screening_passed: bool | None = None  # None: not screened (yet)


class RatingStore:
    """All reads and writes of ratings. Thread-safe (one connection per call)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)

    @classmethod
    def for_test(cls, test_dir: Path, url: str | None = None) -> RatingStore:
        return cls(url or default_url(test_dir))

    # -- listeners ---------------------------------------------------------------------------
    def create_listener(self, listener_id: str, token: str | None = None, source: str = "self",
                        study_id: str = "") -> str:
        """Register ``listener_id``; return its secret token (shown once, kept in the listener's
        resume link). ``token`` is given for Prolific listeners (their SESSION_ID). Raises
        ListenerExists if the ID is taken, ValueError for a malformed ID or token."""
        if not LISTENER_ID.match(listener_id or ""):
            raise ValueError("listener ID: 1-64 characters, letters, digits, '.', '_' or '-'")
        if token is not None and len(token) < 16:
            raise ValueError("a listener token must have at least 16 characters")
        token = token if token is not None else secrets.token_urlsafe(18)
        now = _now()
        try:
            with self.engine.begin() as c:
                c.execute(listeners.insert().values(listener_id=listener_id, token_sha256=_hash(token), created_at=now))
                c.execute(listener_meta.insert().values(listener_id=listener_id, source=source, study_id=study_id or None,
                                                        token_issued_at=now, reissued=0))
        except IntegrityError as e:
            raise ListenerExists(f"listener ID {listener_id!r} is already taken") from e
        return token

    def create_generated_listener(self, prefix: str = "L", source: str = "self") -> tuple[str, str]:
        """A new listener with a random ID (nothing typed, so nothing to probe): (ID, token)."""
        for _ in range(8):
            lid = prefix + secrets.token_hex(5)
            try:
                return lid, self.create_listener(lid, source=source)
            except ListenerExists:  # 40 random bits: practically never
                continue
        raise StorageError("could not draw a free listener ID")

    def reissue_token(self, listener_id: str) -> str:
        """Admin: a new secret for an existing listener; the old link stops working, every
        rating, assignment and screening result stays. Raises UnknownListener."""
        token = secrets.token_urlsafe(18)
        with self.engine.begin() as c:
            n = c.execute(listeners.update().where(listeners.c.listener_id == listener_id)
                          .values(token_sha256=_hash(token))).rowcount
            if n != 1:
                raise UnknownListener(f"no listener {listener_id!r}")
            meta = c.execute(sa.select(listener_meta).where(listener_meta.c.listener_id == listener_id)).first()
            if meta is None:  # a listener registered by an older version
                c.execute(listener_meta.insert().values(listener_id=listener_id, source="self", token_issued_at=_now(),
                                                        reissued=1))
            else:
                c.execute(listener_meta.update().where(listener_meta.c.listener_id == listener_id)
                          .values(token_issued_at=_now(), reissued=meta.reissued + 1))
        return token

    def listener_ids(self) -> list[str]:
        """Admin: every registered listener ID."""
        with self.engine.connect() as c:
            return list(c.execute(sa.select(listeners.c.listener_id).order_by(listeners.c.created_at)).scalars())

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
            meta = c.execute(sa.select(listener_meta.c.source).where(listener_meta.c.listener_id == listener_id)).first()
            scr = c.execute(sa.select(screenings.c.passed).where(screenings.c.listener_id == listener_id)).first()
            return ListenerState(listener_id, row.accepted_at is not None, row.training_done_at is not None,
                                 frozenset(done), meta.source if meta else "self", scr.passed if scr else None)

    def _stamp(self, listener_id: str, token: str, column: str) -> None:
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            c.execute(listeners.update().where(listeners.c.listener_id == listener_id).where(listeners.c[column].is_(None))
                      .values({column: _now()}))

    def accept(self, listener_id: str, token: str) -> None:
        self._stamp(listener_id, token, "accepted_at")

    def training_done(self, listener_id: str, token: str) -> None:
        self._stamp(listener_id, token, "training_done_at")

    # -- assignment (the blinding) -------------------------------------------------------------
    @staticmethod
    def _assignment(c, listener_id: str) -> Assignment | None:
        rows = c.execute(sa.select(assignments).where(assignments.c.listener_id == listener_id)
                         .order_by(assignments.c.kind, assignments.c.position)).all()
        if not rows:
            return None
        return Assignment(tuple(r.trial_id for r in rows if r.kind == "rated"),
                          tuple(r.trial_id for r in rows if r.kind == "training"),
                          {r.trial_id: json.loads(r.letters) for r in rows})

    def assignment(self, listener_id: str, token: str) -> Assignment | None:
        with self.engine.connect() as c:
            self._check(c, listener_id, token)
            return self._assignment(c, listener_id)

    @staticmethod
    def _counts(c) -> dict[str, int]:
        screened_out = sa.select(screenings.c.listener_id).where(screenings.c.passed.is_(False))
        q = (sa.select(assignments.c.trial_id, sa.func.count()).where(assignments.c.kind == "rated")
             .where(assignments.c.listener_id.not_in(screened_out)).group_by(assignments.c.trial_id))
        return {tid: int(n) for tid, n in c.execute(q).all()}

    def trial_counts(self) -> dict[str, int]:
        """Listeners assigned to each rated trial (listeners who failed screening not counted)."""
        with self.engine.connect() as c:
            return self._counts(c)

    def assign(self, listener_id: str, token: str, draw: Callable[[dict[str, int]], Assignment]) -> Assignment:
        """The listener's assignment: the stored one, or ``draw(current counts)`` stored now. The
        counts are read and the new rows written in one write transaction, so listeners
        arriving at the same moment are balanced against each other."""
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            if c.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises writers
                c.exec_driver_sql("LOCK TABLE assignments IN SHARE ROW EXCLUSIVE MODE")
            have = self._assignment(c, listener_id)
            if have is not None:
                return have
            a = draw(self._counts(c))
            now = _now()
            rows = [dict(listener_id=listener_id, trial_id=tid, kind=kind, position=i,
                         letters=json.dumps(dict(a.letters[tid])), assigned_at=now)
                    for kind, ids in (("rated", a.trials), ("training", a.training)) for i, tid in enumerate(ids)]
            c.execute(assignments.insert(), rows)
            return a

    # -- headphone screening -------------------------------------------------------------------
    def screening(self, listener_id: str, token: str) -> sa.Row | None:
        """(kind, plan, answers, correct, passed, ...) of the listener's screening, or None."""
        with self.engine.connect() as c:
            self._check(c, listener_id, token)
            return c.execute(sa.select(screenings).where(screenings.c.listener_id == listener_id)).first()

    def start_screening(self, listener_id: str, token: str, kind: str, plan_json: str) -> str:
        """Store the listener's screening plan unless one exists; return the stored plan."""
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            row = c.execute(sa.select(screenings.c.plan).where(screenings.c.listener_id == listener_id)).first()
            if row is not None:
                return row.plan
            c.execute(screenings.insert().values(listener_id=listener_id, kind=kind, plan=plan_json, answers="[]",
                                                 started_at=_now()))
            return plan_json

    def answer_screening(self, listener_id: str, token: str, index: int, answer: int) -> list[int]:
        """Record the answer to screening trial ``index`` (answers are final and kept in order:
        an answer for another index, or after the result, changes nothing). Returns all answers."""
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            row = c.execute(sa.select(screenings).where(screenings.c.listener_id == listener_id)).first()
            if row is None:
                raise StorageError("no screening started for this listener")
            answers = json.loads(row.answers)
            if row.passed is None and index == len(answers):
                answers.append(int(answer))
                c.execute(screenings.update().where(screenings.c.listener_id == listener_id)
                          .values(answers=json.dumps(answers)))
            return answers

    def finish_screening(self, listener_id: str, token: str, correct: int, passed: bool) -> bool:
        """Store the result once; returns the stored result (a second call cannot change it)."""
        with self.engine.begin() as c:
            self._check(c, listener_id, token)
            c.execute(screenings.update().where(screenings.c.listener_id == listener_id)
                      .where(screenings.c.passed.is_(None))
                      .values(correct=int(correct), passed=bool(passed), finished_at=_now()))
            return bool(c.execute(sa.select(screenings.c.passed).where(screenings.c.listener_id == listener_id)).scalar())

    def screening_frame(self):
        """Admin: one row per screened listener: kind, answers, correct, passed, dates."""
        import pandas as pd

        with self.engine.connect() as c:
            rows = c.execute(sa.select(screenings.c.listener_id, screenings.c.kind, screenings.c.answers,
                                       screenings.c.correct, screenings.c.passed, screenings.c.started_at,
                                       screenings.c.finished_at)).all()
        return pd.DataFrame(rows, columns=["listener_id", "kind", "answers", "correct", "passed", "started_at",
                                           "finished_at"])

    # -- admin logins ------------------------------------------------------------------------------
    def record_admin_attempt(self, ok: bool, at: float) -> None:
        with self.engine.begin() as c:
            c.execute(admin_attempts.insert().values(at=float(at), ok=bool(ok)))

    def admin_failures_since(self, since: float) -> list[float]:
        """Times of failed admin logins after ``since`` (epoch seconds), oldest first."""
        with self.engine.connect() as c:
            return list(c.execute(sa.select(admin_attempts.c.at).where(admin_attempts.c.at > since)
                                  .where(admin_attempts.c.ok.is_(False)).order_by(admin_attempts.c.at)).scalars())

    # -- ratings -----------------------------------------------------------------------------
    def submit_trial(self, listener_id: str, token: str, trial_id: str, scores: dict[str, float],
                     labels: dict[str, str], position: int, time_spent_s: float, started_at: str | None = None,
                     played: dict[str, bool] | None = None, seconds_listened: dict[str, float] | None = None) -> None:
        """Store one trial's ratings atomically (and, when given, whether and how long each
        condition was played). Raises AuthError, AlreadySubmitted or ValueError (a score outside
        0..100, a condition without label); nothing is written then."""
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
                if played is not None or seconds_listened is not None:
                    c.execute(playback.insert(), [
                        dict(listener_id=listener_id, trial_id=trial_id, condition=cond,
                             played=bool((played or {}).get(cond, False)),
                             seconds_listened=float((seconds_listened or {}).get(cond, 0.0)))
                        for cond in scores
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

    def playback_frame(self):
        """Per submitted trial and condition: played (bool) and seconds listened."""
        import pandas as pd

        with self.engine.connect() as c:
            rows = c.execute(sa.select(playback)).all()
        return pd.DataFrame(rows, columns=["listener_id", "trial_id", "condition", "played", "seconds_listened"])

    def progress(self, n_trials: int):
        """One row per listener: source, screening, trials done out of their assigned trials
        (``n_trials`` for listeners without an assignment yet), dates."""
        import pandas as pd

        done = (sa.select(trial_results.c.listener_id, sa.func.count().label("trials_done"),
                          sa.func.max(trial_results.c.submitted_at).label("last_submit"))
                .group_by(trial_results.c.listener_id).subquery())
        assigned = (sa.select(assignments.c.listener_id, sa.func.count().label("assigned"))
                    .where(assignments.c.kind == "rated").group_by(assignments.c.listener_id).subquery())
        q = (sa.select(listeners.c.listener_id, listener_meta.c.source, listeners.c.created_at,
                       screenings.c.passed.label("screening_passed"), listeners.c.training_done_at,
                       sa.func.coalesce(done.c.trials_done, 0), assigned.c.assigned, done.c.last_submit,
                       listener_meta.c.reissued)
             .select_from(listeners
                          .outerjoin(listener_meta, listener_meta.c.listener_id == listeners.c.listener_id)
                          .outerjoin(screenings, screenings.c.listener_id == listeners.c.listener_id)
                          .outerjoin(done, done.c.listener_id == listeners.c.listener_id)
                          .outerjoin(assigned, assigned.c.listener_id == listeners.c.listener_id))
             .order_by(listeners.c.created_at))
        with self.engine.connect() as c:
            df = pd.DataFrame(c.execute(q).all(), columns=[
                "listener_id", "source", "created_at", "screening_passed", "training_done_at", "trials_done",
                "trials_total", "last_submit", "links_reissued"])
        df["source"] = df["source"].fillna("self")
        df["trials_total"] = df["trials_total"].fillna(n_trials).astype(int)
        df["links_reissued"] = df["links_reissued"].fillna(0).astype(int)
        df["complete"] = df["trials_done"] >= df["trials_total"]
        return df

    def dispose(self) -> None:
        self.engine.dispose()
