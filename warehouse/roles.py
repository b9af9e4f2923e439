"""PostgreSQL roles and grants that lock the warehouse down (DuckDB has no roles: every call is a no-op there).

Two NOLOGIN group roles, plus optional login roles that inherit from them:

- ``pulse_loader`` writes: USAGE + CREATE on the schema, all DML on every warehouse table, TEMP on
  the database (the loader stages batches in temporary tables);
- ``pulse_analyst`` reads: SELECT on the objects ``analyst_may_read`` allows (dimensions, marts,
  reference tables, trend results, public facts) and nothing else. Person-level facts, ``stg_`` and
  ``int_`` models (the dbt project's ``staging/`` and ``intermediate/`` folders), quarantine tables,
  the geocode cache, the load audit and watermarks stay closed.

The analyst's grants are an allowlist applied object by object: PostgreSQL's default privileges
cannot be scoped by name, so granting analysts SELECT on "future tables" would also open every
``int_`` model the next rebuild creates. Rebuilt models therefore start closed to analysts (fail
closed) until ``apply_grants`` runs again, which the models flow does after each dbt build (with the
models whose tests failed kept closed). Default
privileges are used where they are safe: every table the owner creates later is writable by the
loader role.

Role and schema names come from configuration: they are validated against ``[a-z_][a-z0-9_]*``
and quoted. Passwords are hashed client-side (SCRAM, as ``psql``'s ``\\password`` does), so the
server, its logs and error messages never see them in clear text.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy import Engine, text

from schemas.errors import ConfigError
from warehouse import dbt_project
from warehouse.resource import is_duckdb
from warehouse.tables import PERSON_LEVEL_TABLES

LOADER_ROLE = "pulse_loader"
ANALYST_ROLE = "pulse_analyst"

# Loaded or derived tables analysts may read besides the prefixes below: police incidents are the
# public portal data; program sessions and the TEDS-A public-use file hold no person identifiers.
ANALYST_TABLES = frozenset({"fct_incidents", "fct_program_sessions", "fct_teds_state_admissions",
                            "trend_signals", "program_impact", "alert_episodes"})
ANALYST_PREFIXES = ("dim_", "mart_", "ref_")
# Never readable, whatever the prefix rules say: a model being rebuilt (``__new``; dbt's
# ``__dbt_tmp`` while it builds and ``__dbt_backup`` while it swaps a table in).
CLOSED_PREFIXES = ("stg_", "int_", "quarantine_")
CLOSED_SUFFIXES = ("__new", "__dbt_tmp", "__dbt_backup")
LOADER_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


def quote_name(name: object, where: str) -> str:
    """Return a configured role or schema name double-quoted, after checking it is a plain identifier.

    Raises ``ConfigError`` for anything but ``[a-z_][a-z0-9_]{0,62}`` not starting with ``pg_``
    (reserved by PostgreSQL): nothing from configuration reaches SQL unchecked.
    """
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("pg_"):
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise ConfigError(where, f"{shown} is not a valid PostgreSQL role or schema name",
                          "Use 1-63 lower-case letters, digits and underscores, not starting with pg_")
    return f'"{name}"'


def _quote_existing(name: str) -> str:
    """Quote the name of an object that already exists (table, database): escape, don't reject."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Roles:
    """The two group role names (validated when built)."""

    loader: str = LOADER_ROLE
    analyst: str = ANALYST_ROLE

    def __post_init__(self) -> None:
        quote_name(self.loader, "loader role")
        quote_name(self.analyst, "analyst role")
        if self.loader == self.analyst:
            raise ConfigError("roles", f"loader and analyst role are both '{self.loader}'",
                              "Give the two roles different names")


@dataclass
class GrantReport:
    """What ``apply_grants`` did: the objects analysts may read, those closed to them, or why it skipped."""

    readable: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    skipped: str | None = None


def analyst_may_read(name: str, restricted_models: Collection[str] = ()) -> bool:
    """Return True when analysts may SELECT from the table or view ``name``; unknown names are closed."""
    if (name in PERSON_LEVEL_TABLES or name in restricted_models or name.startswith(CLOSED_PREFIXES)
            or name.endswith(CLOSED_SUFFIXES)):
        return False
    return name in ANALYST_TABLES or name.startswith(ANALYST_PREFIXES)


def split_grants(names: Iterable[str], restricted_models: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """Return (readable, closed) object names for analysts, each sorted."""
    names = sorted(set(names))
    readable = [n for n in names if analyst_may_read(n, restricted_models)]
    return readable, [n for n in names if n not in readable]


def _run(conn, sql: str) -> None:
    """Execute DDL on the driver cursor: no bind-parameter parsing of quoted names, and a failing
    statement (which may hold a password hash) is not copied into SQLAlchemy's error message."""
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(sql)
    finally:
        cur.close()


def _schema(conn, schema: str | None) -> str:
    name = schema or conn.execute(text("SELECT current_schema()")).scalar_one()
    quote_name(name, "warehouse schema")
    return name


def _existing_roles(conn, names: Iterable[str]) -> dict[str, dict]:
    rows = conn.execute(text("SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = ANY(:n)"),
                        {"n": list(names)}).mappings().all()
    return {r["rolname"]: dict(r) for r in rows}


def _warehouse_objects(conn, schema: str) -> list[str]:
    """Return the tables and views of ``schema`` that belong to no extension (PostGIS's are left alone)."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY c.relname"), {"schema": schema}).scalars()
    return list(rows)


def _ensure_group(conn, name: str) -> bool:
    """Create the NOLOGIN group role ``name`` unless it exists; return True when created."""
    existing = _existing_roles(conn, [name]).get(name)
    if existing is None:
        _run(conn, f"CREATE ROLE {quote_name(name, 'group role')} NOLOGIN")
        return True
    if existing["rolcanlogin"] or existing["rolsuper"]:
        raise ConfigError(name, "role exists and can log in (or is a superuser), so it is not a group role",
                          "Pick another group role name or make it NOLOGIN")
    return False


def ensure_group_roles(engine: Engine, roles: Roles = Roles()) -> list[str]:
    """Create the loader and analyst group roles when missing; return the names created."""
    with engine.begin() as conn:
        return [n for n in (roles.loader, roles.analyst) if _ensure_group(conn, n)]


def _password_verifier(conn, login: str, password: SecretStr) -> str:
    """Return the server-format hash of the password (SCRAM-SHA-256 on PostgreSQL >= 14 defaults)."""
    raw = conn.connection.driver_connection  # psycopg 3
    verifier = raw.pgconn.encrypt_password(password.get_secret_value().encode(), login.encode(), None)
    return verifier.decode("ascii")


def ensure_login_role(engine: Engine, login: str, group: str, password: SecretStr | None = None,
                      read_only: bool = False) -> bool:
    """Create (or update) the LOGIN role ``login`` as a member of ``group``; return True when created.

    ``password`` is hashed before it is sent; None leaves the password as it is (or unset, for
    certificate/peer authentication). ``read_only`` makes its sessions default to read-only
    transactions. Refuses superusers and the connected role itself.
    """
    q_login, q_group = quote_name(login, "login role"), quote_name(group, "group role")
    with engine.begin() as conn:
        if login == conn.execute(text("SELECT current_user")).scalar_one():
            raise ConfigError(login, "is the role this command connects as", "Pick a new login role name")
        found = _existing_roles(conn, [login, group])
        if group not in found:
            raise ConfigError(group, "group role does not exist", "Run pulse warehouse roles first")
        if login in found and found[login]["rolsuper"]:
            raise ConfigError(login, "is a superuser", "Pick a new login role name")
        created = login not in found
        _run(conn, f"{'CREATE' if created else 'ALTER'} ROLE {q_login} LOGIN INHERIT")
        _run(conn, f"GRANT {q_group} TO {q_login}")
        if read_only:
            _run(conn, f"ALTER ROLE {q_login} SET default_transaction_read_only = on")
        if password is not None:
            _run(conn, f"ALTER ROLE {q_login} PASSWORD '{_password_verifier(conn, login, password)}'")
    return created


def apply_grants(engine: Engine, roles: Roles = Roles(), schema: str | None = None,
                 keep_closed: Collection[str] = ()) -> GrantReport:
    """Re-apply every object grant for the two group roles; return what analysts may and may not read.

    Call it after every dbt build (a rebuilt model is a new object without grants). ``keep_closed``
    names objects to keep closed to analysts whatever the policy says (models whose dbt tests
    failed, e.g. a small cell that slipped through). Idempotent; a no-op (``skipped`` set) on
    DuckDB and when the group roles do not exist. Must run as the role that owns the warehouse
    objects (it re-grants them).
    """
    if schema is not None:
        quote_name(schema, "warehouse schema")
    if is_duckdb(engine):
        return GrantReport(skipped="DuckDB has no roles")
    restricted = [*dbt_project.restricted_models(), *keep_closed]
    with engine.begin() as conn:
        schema = _schema(conn, schema)
        found = _existing_roles(conn, [roles.loader, roles.analyst])
        missing = [r for r in (roles.loader, roles.analyst) if r not in found]
        if missing:
            return GrantReport(skipped=f"role(s) {', '.join(missing)} do not exist (run pulse warehouse init)")
        q_schema = _quote_existing(schema)
        owner = _quote_existing(conn.execute(text("SELECT current_user")).scalar_one())
        loader, analyst = quote_name(roles.loader, "loader role"), quote_name(roles.analyst, "analyst role")
        objects = _warehouse_objects(conn, schema)
        readable, closed = split_grants(objects, restricted)
        defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {q_schema}"
        statements = [
            f"GRANT USAGE, CREATE ON SCHEMA {q_schema} TO {loader}",
            f"GRANT USAGE ON SCHEMA {q_schema} TO {analyst}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {q_schema} TO {loader}",
            # Tables this role creates later (model rebuilds, new loaded tables) are writable by the loader ...
            f"{defaults} GRANT {LOADER_PRIVILEGES} ON TABLES TO {loader}",
            f"{defaults} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {loader}",
            # ... and closed to analysts and PUBLIC until apply_grants has vetted them by name.
            f"{defaults} REVOKE ALL ON TABLES FROM {analyst}, PUBLIC",
        ]
        if objects:
            listed = ", ".join(f"{q_schema}.{_quote_existing(n)}" for n in objects)
            statements += [f"REVOKE ALL ON {listed} FROM {analyst}, PUBLIC",
                           f"GRANT {LOADER_PRIVILEGES} ON {listed} TO {loader}"]
        if readable:
            statements.append(f"GRANT SELECT ON {', '.join(f'{q_schema}.{_quote_existing(n)}' for n in readable)} "
                              f"TO {analyst}")
        for sql in statements:
            _run(conn, sql)
    return GrantReport(readable=readable, closed=closed)


def lock_database(engine: Engine, roles: Roles = Roles(), schema: str | None = None) -> None:
    """Close the database and schema to PUBLIC; open them to the two group roles only.

    Needs the database and schema owner (or a superuser). Other roles can no longer connect.
    """
    with engine.begin() as conn:
        schema = _schema(conn, schema)
        db = _quote_existing(conn.execute(text("SELECT current_database()")).scalar_one())
        loader, analyst = quote_name(roles.loader, "loader role"), quote_name(roles.analyst, "analyst role")
        for sql in (f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                    f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {loader}",
                    f"GRANT CONNECT ON DATABASE {db} TO {analyst}",
                    f"REVOKE ALL ON SCHEMA {_quote_existing(schema)} FROM PUBLIC"):
            _run(conn, sql)


def setup_roles(engine: Engine, roles: Roles = Roles(), schema: str | None = None,
                logins: Iterable[tuple[str, str, SecretStr | None]] = ()) -> GrantReport:
    """Create the group roles and login roles, lock the database down and apply every grant.

    ``logins`` holds ``(login, "loader" | "analyst", password or None)``; analyst logins default to
    read-only transactions. Returns ``apply_grants``'s report (``skipped`` on DuckDB).
    """
    if schema is not None:
        quote_name(schema, "warehouse schema")
    logins = list(logins)
    for login, kind, _ in logins:  # validate everything before any DDL
        quote_name(login, f"{kind} login role")
        if kind not in ("loader", "analyst"):
            raise ConfigError(login, f"unknown login kind '{kind}'", "Use loader or analyst")
        if login in (roles.loader, roles.analyst):
            raise ConfigError(login, "login role has the name of a group role", "Pick another login name")
    if is_duckdb(engine):
        return GrantReport(skipped="DuckDB has no roles")
    ensure_group_roles(engine, roles)
    for login, kind, password in logins:
        ensure_login_role(engine, login, roles.loader if kind == "loader" else roles.analyst, password,
                          read_only=kind == "analyst")
    lock_database(engine, roles, schema)
    return apply_grants(engine, roles, schema)
