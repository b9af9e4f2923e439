"""``pulse warehouse init | upgrade | roles | revision``: create, migrate and lock down the warehouse.

``register(app)`` adds the ``warehouse`` command group. Passwords for login roles are read from
environment variables named on the command line (default ``PULSE_ANALYST_PASSWORD`` and
``PULSE_LOADER_PASSWORD``), never from files or arguments, and are never printed.
"""
from __future__ import annotations

import os
from typing import Optional

import typer
from pydantic import SecretStr

from flows.settings import Settings
from schemas.errors import ConfigError, PulseError

NO_ROLES_ON_DUCKDB = ("DuckDB has no roles: access control (pulse_loader / pulse_analyst) needs the PostgreSQL "
                      "warehouse (PULSE_WAREHOUSE_URL=postgresql+psycopg://…)")

LoaderRole = typer.Option("pulse_loader", "--loader-role", help="Group role that writes (NOLOGIN).")
AnalystRole = typer.Option("pulse_analyst", "--analyst-role", help="Group role that reads (NOLOGIN).")
AnalystLogin = typer.Option(None, "--analyst-login", help="Also create/update this LOGIN role in the analyst group.")
AnalystPasswordEnv = typer.Option("PULSE_ANALYST_PASSWORD", "--analyst-password-env",
                                  help="Environment variable holding the analyst login's password.")
LoaderLogin = typer.Option(None, "--loader-login", help="Also create/update this LOGIN role in the loader group.")
LoaderPasswordEnv = typer.Option("PULSE_LOADER_PASSWORD", "--loader-password-env",
                                 help="Environment variable holding the loader login's password.")




def _fail(message: str) -> None:
    from flows.cli.console import fail

    fail(message)


def _error_line(exc: Exception) -> str:
    """One line for a database error: the server's message only (never the statement)."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(orig)
    return (message.strip().splitlines() or [type(orig).__name__])[0]


def _password(login: str | None, env_var: str) -> SecretStr | None:
    """Return the login's password from ``env_var``; an error when a login is named but the variable is unset."""
    if not login:
        return None
    value = os.environ.get(env_var)  # the CLI is the edge: secrets come from the environment only
    if not value:
        raise ConfigError(env_var, f"is not set, so login role '{login}' would have no password",
                          f"Export {env_var} (from your secret store, never a file in the repo) and rerun")
    return SecretStr(value)


def _upgrade(settings: Settings):
    from warehouse.resource import Warehouse, redact
    from warehouse.migrations import schema_drift, upgrade

    from flows.cli.console import console

    url = settings.resolved_warehouse_url
    engine = Warehouse(url)
    before, after = upgrade(engine)
    change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    console.print(f"Warehouse {redact(url)}: {change} revision [bold]{after}[/]", highlight=False)
    for line in schema_drift(engine):
        console.print(f"[yellow]warning:[/] {line} (add a revision in warehouse/migrations/versions)")
    return engine


def _logins(analyst_login, analyst_password_env, loader_login, loader_password_env) -> list[tuple]:
    """Return (login, kind, password) for the login roles asked for; passwords are checked before any DDL."""
    return [(login, kind, _password(login, env)) for login, kind, env in
            ((loader_login, "loader", loader_password_env), (analyst_login, "analyst", analyst_password_env)) if login]


def _roles(engine, roles, logins: list[tuple]) -> None:
    from warehouse.roles import setup_roles

    from flows.cli.console import console

    report = setup_roles(engine, roles, logins=logins)
    console.print(f"Roles {roles.loader} (writes) and {roles.analyst} (reads): analysts may read "
                  f"{len(report.readable)} tables/views, {len(report.closed)} are closed to them; "
                  "other roles cannot connect.", highlight=False)
    for login, kind, _ in logins:
        console.print(f"Login role {login} is in {roles.loader if kind == 'loader' else roles.analyst}.", highlight=False)


def init(loader_role: str = LoaderRole, analyst_role: str = AnalystRole, analyst_login: Optional[str] = AnalystLogin,
         analyst_password_env: str = AnalystPasswordEnv, loader_login: Optional[str] = LoaderLogin,
         loader_password_env: str = LoaderPasswordEnv):
    """Create the warehouse (tables, PostGIS, migrations) and, on PostgreSQL, its roles and grants."""
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.resource import is_duckdb
    from warehouse.roles import Roles

    from flows.cli.console import console

    settings = Settings()
    try:
        # Bad names and missing passwords are reported before anything touches the database.
        roles = Roles(loader=loader_role, analyst=analyst_role)
        duckdb = is_duckdb(settings.resolved_warehouse_url)
        logins = [] if duckdb else _logins(analyst_login, analyst_password_env, loader_login, loader_password_env)
        engine = _upgrade(settings)
        if duckdb:
            console.print(NO_ROLES_ON_DUCKDB, highlight=False)
            return
        _roles(engine, roles, logins)
    except PulseError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"warehouse: {_error_line(exc)}")


def upgrade():
    """Apply the pending schema migrations (idempotent; DuckDB and PostgreSQL)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        _upgrade(Settings())
    except PulseError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"warehouse: {_error_line(exc)}")


def roles(loader_role: str = LoaderRole, analyst_role: str = AnalystRole, analyst_login: Optional[str] = AnalystLogin,
          analyst_password_env: str = AnalystPasswordEnv, loader_login: Optional[str] = LoaderLogin,
          loader_password_env: str = LoaderPasswordEnv):
    """(Re)create the group roles, optional login roles and every grant (PostgreSQL only)."""
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.resource import Warehouse, is_duckdb
    from warehouse.roles import Roles

    settings = Settings()
    try:
        if is_duckdb(settings.resolved_warehouse_url):
            raise ConfigError("PULSE_WAREHOUSE_URL", NO_ROLES_ON_DUCKDB, "")
        roles = Roles(loader=loader_role, analyst=analyst_role)
        logins = _logins(analyst_login, analyst_password_env, loader_login, loader_password_env)
        _roles(Warehouse(settings.resolved_warehouse_url), roles, logins)
    except PulseError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"warehouse: {_error_line(exc)}")


def revision(message: str = typer.Argument(..., help="What the schema change does.")):
    """Write a new, empty migration file after the current head (for developers)."""
    from warehouse.migrations import new_revision

    from flows.cli.console import console

    console.print(f"Wrote {new_revision(message)}: add idempotent op.* calls (see docs/operations.md)", highlight=False)
