"""Ruleset versions in the database: their exact files (content-addressed) and their activations.

A version's files are stored once per content hash; `ruleset_activations` says which version is
active from when (publications, effective-dated or not, and rollbacks) and is the audit trail.
The active version at time T is the activation with the latest `effective_at` <= T (then the latest id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from cpq.admin.files import RuleFileBlob, RuleFiles
from cpq.errors import InvalidInput, NotFound
from cpq.ruleset.model import Ruleset
from cpq.store.tables import (
    ruleset_activations,
    ruleset_blobs,
    ruleset_processes,
    ruleset_version_files,
    ruleset_versions,
)


class UnknownVersion(NotFound):
    code = "unknown_ruleset_version"
    title = "Unknown ruleset version"


@dataclass(frozen=True)
class Activation:
    id: int
    version: str
    action: str
    effective_at: datetime
    previous_version: str | None
    actor: str
    user_id: int | None
    note: str | None
    summary: dict
    created_at: datetime

    def as_dict(self) -> dict:
        return {"id": self.id, "version": self.version, "action": self.action, "effective_at": self.effective_at,
                "previous_version": self.previous_version, "actor": self.actor, "user_id": self.user_id,
                "note": self.note, "summary": self.summary, "created_at": self.created_at}


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _activation(row) -> Activation:
    return Activation(id=row.id, version=row.version, action=row.action, effective_at=utc(row.effective_at),
                      previous_version=row.previous_version, actor=row.actor, user_id=row.user_id, note=row.note,
                      summary=json.loads(row.summary), created_at=utc(row.created_at))


def _upsert(conn: sa.Connection, table: sa.Table):
    """An INSERT of the connection's dialect, which has ON CONFLICT (PostgreSQL and SQLite)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _insert_missing(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert rows whose primary key is not there yet (another process may store the same version)."""
    if rows:
        conn.execute(_upsert(conn, table).on_conflict_do_nothing(), rows)


def is_stored(conn: sa.Connection, version: str) -> bool:
    return conn.execute(sa.select(ruleset_version_files.c.version).where(
        ruleset_version_files.c.version == version).limit(1)).first() is not None


def save_version(conn: sa.Connection, files: RuleFiles, ruleset: Ruleset, now: datetime) -> bool:
    """Store the exact files of `ruleset` (once); True when they were not stored before."""
    if is_stored(conn, ruleset.version):
        return False
    _insert_missing(conn, ruleset_versions, [{"version": ruleset.version, "first_loaded_at": now,
                                              "summary": json.dumps(ruleset.summary())}])
    _insert_missing(conn, ruleset_blobs, [{"sha256": sha, "content": content} for sha, content in
                                          {f.sha256: f.content for f in files.files}.items()])
    _insert_missing(conn, ruleset_version_files, [
        {"version": ruleset.version, "position": n, "path": f.path, "key": f.key, "sha256": f.sha256}
        for n, f in enumerate(files.files)])
    return True


def load_files(conn: sa.Connection, version: str) -> RuleFiles:
    """The exact files of a stored version (UnknownVersion when its files were never stored)."""
    rows = conn.execute(
        sa.select(ruleset_version_files.c.path, ruleset_version_files.c.key, ruleset_blobs.c.content)
        .join(ruleset_blobs, ruleset_blobs.c.sha256 == ruleset_version_files.c.sha256)
        .where(ruleset_version_files.c.version == version).order_by(ruleset_version_files.c.position)).all()
    if not rows:
        raise UnknownVersion(f"the files of ruleset version {version[:12]} are not stored")
    return RuleFiles(tuple(RuleFileBlob(r.path, r.key, bytes(r.content)) for r in rows))


def resolve(conn: sa.Connection, prefix: str) -> str:
    """The full version a prefix (at least 8 hex digits) names; only versions whose files are stored."""
    prefix = prefix.strip().lower()
    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        raise InvalidInput("a ruleset version is at least 8 hexadecimal digits", errors={"version": ["8 to 64 hex digits"]})
    found = conn.execute(sa.select(ruleset_version_files.c.version).distinct()
                         .where(ruleset_version_files.c.version.like(prefix + "%")).limit(2)).scalars().all()
    if not found:
        raise UnknownVersion(f"no stored ruleset version starts with {prefix}")
    if len(found) > 1:
        raise InvalidInput(f"more than one stored ruleset version starts with {prefix}; give more digits")
    return found[0]


def active(conn: sa.Connection, at: datetime) -> Activation | None:
    """The activation in force at `at`, or None before the first publication."""
    row = conn.execute(sa.select(ruleset_activations).where(ruleset_activations.c.effective_at <= at)
                       .order_by(ruleset_activations.c.effective_at.desc(), ruleset_activations.c.id.desc())
                       .limit(1)).first()
    return None if row is None else _activation(row)


# The per-process check runs these two often: built once, so a check is two cached statements.
_ACTIVE_VERSION = (sa.select(ruleset_activations.c.version)
                   .where(ruleset_activations.c.effective_at <= sa.bindparam("at", type_=sa.DateTime(timezone=True)))
                   .order_by(ruleset_activations.c.effective_at.desc(), ruleset_activations.c.id.desc()).limit(1))
_UPCOMING_VERSIONS = (sa.select(ruleset_activations.c.version)
                      .where(ruleset_activations.c.effective_at > sa.bindparam("after", type_=sa.DateTime(timezone=True)),
                             ruleset_activations.c.effective_at <= sa.bindparam("until", type_=sa.DateTime(timezone=True)))
                      .order_by(ruleset_activations.c.effective_at, ruleset_activations.c.id))


def active_version(conn: sa.Connection, at: datetime) -> str | None:
    """The cheap per-process check: just the version in force at `at`."""
    return conn.execute(_ACTIVE_VERSION, {"at": at}).scalar()


def upcoming_versions(conn: sa.Connection, after: datetime, until: datetime) -> list[str]:
    """Versions that take effect in (after, until], in order (the check's second statement)."""
    return list(conn.execute(_UPCOMING_VERSIONS, {"after": after, "until": until}).scalars())


def upcoming(conn: sa.Connection, after: datetime, until: datetime) -> list[Activation]:
    """Activations that take effect in (after, until]: processes compile them ahead of time."""
    rows = conn.execute(sa.select(ruleset_activations).where(ruleset_activations.c.effective_at > after,
                                                             ruleset_activations.c.effective_at <= until)
                        .order_by(ruleset_activations.c.effective_at, ruleset_activations.c.id)).all()
    return [_activation(r) for r in rows]


def record_activation(conn: sa.Connection, *, version: str, action: str, effective_at: datetime, actor: str,
                      user_id: int | None, previous_version: str | None, summary: dict, note: str | None,
                      now: datetime) -> Activation:
    """Make `version` active from `effective_at` (one row: publication or rollback, and its audit entry)."""
    result = conn.execute(ruleset_activations.insert().values(
        version=version, action=action, effective_at=effective_at, previous_version=previous_version, actor=actor,
        user_id=user_id, note=note, summary=json.dumps(summary, sort_keys=True, default=str), created_at=now))
    row = conn.execute(sa.select(ruleset_activations).where(
        ruleset_activations.c.id == result.inserted_primary_key[0])).one()
    return _activation(row)


def advance(conn: sa.Connection, activation_id: int, now: datetime) -> Activation:
    """Bring a pending activation forward to `now` (no change when it is already in force)."""
    conn.execute(ruleset_activations.update().where(ruleset_activations.c.id == activation_id,
                                                    ruleset_activations.c.effective_at > now).values(effective_at=now))
    return _activation(conn.execute(sa.select(ruleset_activations).where(ruleset_activations.c.id == activation_id)).one())


@dataclass(frozen=True)
class Process:
    """A serving process as it last reported itself: the version it answers from, the ones it holds."""

    process: str
    serving: str | None
    compiled: tuple[str, ...]
    started_at: datetime
    seen_at: datetime

    def as_dict(self) -> dict:
        return {"process": self.process, "serving": self.serving, "compiled": list(self.compiled),
                "started_at": self.started_at, "seen_at": self.seen_at}


def report_process(conn: sa.Connection, process: str, *, serving: str | None, compiled: list[str],
                   started_at: datetime, now: datetime) -> None:
    """Upsert this process's row (its heartbeat)."""
    values = {"serving": serving, "compiled": " ".join(compiled), "seen_at": now}
    statement = _upsert(conn, ruleset_processes).values(process=process, started_at=started_at, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=[ruleset_processes.c.process], set_=values))


def forget_process(conn: sa.Connection, process: str) -> None:
    conn.execute(ruleset_processes.delete().where(ruleset_processes.c.process == process))


def live_processes(conn: sa.Connection, seen_since: datetime) -> list[Process]:
    """The processes that reported since `seen_since`, oldest first."""
    rows = conn.execute(sa.select(ruleset_processes).where(ruleset_processes.c.seen_at >= seen_since)
                        .order_by(ruleset_processes.c.started_at, ruleset_processes.c.process)).all()
    return [Process(r.process, r.serving, tuple(r.compiled.split()), utc(r.started_at), utc(r.seen_at)) for r in rows]


def forget_processes_seen_before(conn: sa.Connection, before: datetime) -> int:
    """Drop the rows of processes gone quiet long ago (killed without a goodbye)."""
    return conn.execute(ruleset_processes.delete().where(ruleset_processes.c.seen_at < before)).rowcount


def audit(conn: sa.Connection, *, limit: int = 50, before_id: int | None = None) -> list[Activation]:
    """Publications and rollbacks, newest first."""
    query = sa.select(ruleset_activations).order_by(ruleset_activations.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(ruleset_activations.c.id < before_id)
    return [_activation(r) for r in conn.execute(query).all()]


def stored_versions(conn: sa.Connection) -> list[dict]:
    """Every version whose files are stored, newest first, with its summary counts."""
    stored = sa.select(ruleset_version_files.c.version).distinct().subquery()
    rows = conn.execute(sa.select(ruleset_versions).join(stored, stored.c.version == ruleset_versions.c.version)
                        .order_by(ruleset_versions.c.first_loaded_at.desc())).all()
    return [{"version": r.version, "first_loaded_at": utc(r.first_loaded_at), "summary": json.loads(r.summary)}
            for r in rows]
