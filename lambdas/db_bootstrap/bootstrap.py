"""Per-service database bootstrap: a role, a database and stored credentials.

A call names one service and one action; everything else (cluster, admin secret,
data key, parameter root, CA bundle) is this function's own configuration, so a
caller can never point it elsewhere.

- ensure: role (LOGIN, connection limit) and database owned by it, CONNECT revoked
  from PUBLIC, the public schema owned by the role; the password is generated once and
  stored with the username as SSM SecureStrings (data key) under
  <root>/<service>/db/. Safe to run again, concurrently, and after an interrupted run.
- disable: the role becomes NOLOGIN (its sessions are ended); database, data and
  credentials are kept, so ensure restores the service with the same password.
- purge: drops database and role and deletes the parameters, only when the event's
  `confirm` repeats the service name.

Ownership: the role ensure creates carries the comment `fargate-platform service
<service>` (set in the same transaction). A role without exactly that comment, or a
database not owned by the service's role, is refused by every action before anything
changes: `order-api` and `order_api` share a role name, and a DBA's role may carry a
service's name.

The SSM parameter is the source of truth of a password: it is stored before the role
gets it, so an interrupted run finishes with the same password. The role's password
is sent as a SCRAM-SHA-256 verifier computed here, so the plain text never reaches
the server (statement logs, pg_stat_statements). Names are validated before any AWS
or SQL call; identifiers are quoted with psycopg2.sql.
"""
import random
import time

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2 import sql

from fargate_platform import names
from fargate_platform.lambdas.db_bootstrap.credentials import Credentials
from fargate_platform.lambdas.db_bootstrap.errors import BootstrapError, InvalidRequest
from fargate_platform.lambdas.db_bootstrap.request import shown
from fargate_platform.lambdas.db_bootstrap.scram import scram_sha256_verifier
from fargate_platform.lambdas.shared.structured_log import StructuredLog

APPLICATION_NAME = "fargate-platform-db-bootstrap"
# SQLSTATEs a concurrent bootstrap can cause; the step is retried:
# 55006 "source database template1 is being accessed by other users", 40001/40P01
# serialization failure/deadlock, 55P03 lock timeout, 23505 a catalog unique index
# (two CREATE ROLE of one name), XX000 "tuple concurrently updated", 57014 a statement
# timeout (ours, bounded by the time left).
_TRANSIENT_SQLSTATES = {"55006", "40001", "40P01", "55P03", "23505", "57014"}
# Each attempt's waits (locks, statements) are bounded by the time left before the
# deadline, minus this margin; with less than the margin left, nothing more starts.
ATTEMPT_MARGIN_SECONDS = 0.5
LOCK_TIMEOUT_MS = 10000  # never wait long behind another session's lock: retry instead
STATEMENT_TIMEOUT_MS = 30000


def ownership_comment(service):
    """The comment ensure puts on the role it creates: the role belongs to this service.
    Service names that differ only by '-' and '_' share a role name, and a role made
    outside the platform may carry a service's name: neither is ever taken over."""
    return f"fargate-platform service {service}"


# -- the work -----------------------------------------------------------------------------------


class Bootstrapper:
    """Runs one Request with explicit settings, SSM client and connect function."""

    def __init__(self, settings, ssm, log=None, connect=None, deadline=None):
        self.settings = settings
        self.ssm = ssm
        self.log = log or StructuredLog(function="db-bootstrap")
        self._connect = connect or psycopg2.connect
        self._deadline = deadline if deadline is not None else time.monotonic() + 50.0
        self.credentials = Credentials(settings, ssm, self.log, self._check_time)
        self._subject = "bootstrap"  # "<action> of service '<name>'", for errors

    def run(self, request):
        service = request.service
        names.validate_service_name(service)
        if not names.SERVICE_NAME_PATTERN.fullmatch(service):
            raise InvalidRequest(f"invalid service name {shown(service)}")
        role = names.database_name(service)
        if role in (self.settings.admin_username, self.settings.admin_database):
            raise InvalidRequest(f"service name {service!r} collides with the cluster's admin user or database")
        if request.action == "purge" and request.confirm != service:
            raise InvalidRequest(f"purge of service {service!r} needs \"confirm\": \"{service}\"")
        action = getattr(self, request.action)
        self._subject = f"{request.action} of service {service!r}"
        try:
            result = action(service, role)
        except psycopg2.Error as error:
            raise BootstrapError(
                self.log.mask(
                    f"{request.action} of service {service!r} failed in PostgreSQL: "
                    f"{_first_line(error)} (SQLSTATE {error.pgcode})"
                )
            ) from None
        result.update(
            service=service,
            action=request.action,
            role_name=role,
            database_name=role,
            **self.credentials.parameter_names(service),
        )
        return result

    # -- actions --------------------------------------------------------------------------

    def ensure(self, service, role):
        parameters = self.credentials.parameter_names(service)
        statuses = {}
        conn = self._admin_connection(self.settings.admin_database)
        try:
            # Before anything changes (SSM or SQL): a role or database that is not this
            # service's is refused. Checked again where the role is used, for a race.
            self._bound(conn, "the ownership check")
            with conn.cursor() as cur:
                self._check_ownership(cur, service, role, check_database=True)
            password, stored = self.credentials.service_password(parameters["password_parameter"])
            self.credentials.store_username(parameters["username_parameter"], role)
            self._retrying(
                "role and database", conn,
                lambda: self._ensure_role_and_database(conn, service, role, password, statuses),
            )
        finally:
            conn.close()
        conn = self._admin_connection(role)
        try:
            self._retrying("public schema", conn, lambda: self._ensure_schema(conn, role))
        finally:
            conn.close()
        self.log.info("service database ensured", role=statuses["role"], database=statuses["database"],
                      parameters=stored)
        return {"role": statuses["role"], "database": statuses["database"], "parameters": stored}

    def disable(self, service, role):
        conn = self._admin_connection(self.settings.admin_database)
        try:
            self._bound(conn, "disable")
            with conn.cursor() as cur:
                role_row = self._check_ownership(cur, service, role, check_database=False)
                if role_row is None:
                    role_status = "absent"
                else:
                    cur.execute(sql.SQL("ALTER ROLE {} WITH NOLOGIN").format(sql.Identifier(role)))
                    self._end_sessions(cur, role)
                    role_status = "disabled"
                database_status = "kept" if self._database_owner(cur, role) is not None else "absent"
        finally:
            conn.close()
        self.log.info("service login disabled; database and credentials kept", role=role_status)
        return {"role": role_status, "database": database_status, "parameters": "kept"}

    def purge(self, service, role):
        conn = self._admin_connection(self.settings.admin_database)
        try:
            self._bound(conn, "purge")
            with conn.cursor() as cur:
                role_row = self._check_ownership(cur, service, role, check_database=True)
                if role_row is not None:
                    cur.execute(sql.SQL("ALTER ROLE {} WITH NOLOGIN").format(sql.Identifier(role)))
                    self._end_sessions(cur, role)
                if self._database_owner(cur, role) is not None:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(role)))
                    database_status = "purged"
                else:
                    database_status = "absent"
                if role_row is not None:
                    cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
                role_status = "purged" if role_row is not None else "absent"
        finally:
            conn.close()
        deleted = self.credentials.delete(service)
        self.log.warning("service database purged", role=role_status, database=database_status,
                         parameters_deleted=len(deleted))
        return {"role": role_status, "database": database_status,
                "parameters": "deleted" if deleted else "absent"}

    # -- SQL steps (each safe to repeat) -----------------------------------------------------------

    def _ensure_role_and_database(self, conn, service, role, password, statuses):
        identifier = sql.Identifier(role)
        verifier = sql.Literal(scram_sha256_verifier(password))
        limit = sql.Literal(self.settings.connection_limit)
        with conn.cursor() as cur:
            row = self._service_role(cur, role)
            created = False
            if row is None:
                try:
                    # One transaction: a role never exists without its ownership mark.
                    self._in_transaction(conn, [
                        sql.SQL("CREATE ROLE {} WITH LOGIN CONNECTION LIMIT {} PASSWORD {}").format(
                            identifier, limit, verifier
                        ),
                        sql.SQL("COMMENT ON ROLE {} IS {}").format(identifier, sql.Literal(ownership_comment(service))),
                    ])
                    created = True
                    statuses.setdefault("role", "created")
                except pg_errors.DuplicateObject:
                    row = self._service_role(cur, role)  # created concurrently: whose is it?
                    if row is None:
                        raise BootstrapError(f"role {role!r} vanished while being created; run ensure again") from None
                    statuses.setdefault("role", "present")
            else:
                statuses.setdefault("role", "present" if row["can_login"] else "restored")
            if row is not None:
                self._refuse_foreign_role(service, role, row)
            if not created:
                # Restores LOGIN after a disable, applies the configured limit and the
                # stored password (the SSM parameter is the source of truth).
                cur.execute(
                    sql.SQL("ALTER ROLE {} WITH LOGIN CONNECTION LIMIT {} PASSWORD {}").format(
                        identifier, limit, verifier
                    )
                )
            # RDS's admin is no superuser: it must be a member of the role to create a
            # database owned by it and to manage the role's schema and sessions.
            cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(identifier))
            owner = self._database_owner(cur, role)
            if owner is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(identifier, identifier))
                    statuses.setdefault("database", "created")
                except pg_errors.DuplicateDatabase:
                    owner = self._database_owner(cur, role)  # created concurrently
                    statuses.setdefault("database", "present")
            else:
                statuses.setdefault("database", "present")
            if owner is not None and owner != role:
                raise self._foreign_database_error(service, role, owner)
            cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(identifier))

    def _ensure_schema(self, conn, role):
        with conn.cursor() as cur:
            cur.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")
            row = cur.fetchone()
            if row is None:
                return  # the service dropped its public schema: its choice
            if row[0] != role:
                cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
            # PostgreSQL 15's default already; databases from older templates granted it.
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")

    @staticmethod
    def _in_transaction(conn, statements):
        """Run statements as one transaction on an autocommit connection."""
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.autocommit = True

    def _check_ownership(self, cur, service, role, check_database):
        """The role's row when it is this service's (None when absent); BootstrapError
        when the role, or with check_database the database, belongs to someone else."""
        row = self._service_role(cur, role)
        if row is not None:
            self._refuse_foreign_role(service, role, row)
        if check_database:
            owner = self._database_owner(cur, role)
            if owner is not None and owner != role:
                raise self._foreign_database_error(service, role, owner)
        return row

    @staticmethod
    def _refuse_foreign_role(service, role, row):
        expected = ownership_comment(service)
        if row["comment"] == expected:
            return
        found = "no comment" if row["comment"] is None else f"the comment {shown(row['comment'])}"
        raise BootstrapError(
            f"role {role!r} exists but is not the role of service {service!r} (it has {found}, "
            f"not {expected!r}): refusing to change it. It belongs to another service whose name "
            "differs only by '-' or '_', or was made outside the platform; rename the service or "
            "remove the role yourself"
        )

    @staticmethod
    def _foreign_database_error(service, role, owner):
        return BootstrapError(
            f"database {role!r} exists but is owned by {owner!r}, not by role {role!r} of service "
            f"{service!r}: refusing to change it; rename the service or move the database yourself"
        )

    def _service_role(self, cur, role):
        cur.execute(
            "SELECT rolcanlogin, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls,"
            " shobj_description(oid, 'pg_authid')"
            " FROM pg_roles WHERE rolname = %s",
            (role,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        if row[1]:
            raise BootstrapError(
                f"role {role!r} exists with administrative attributes: it is not a service role, "
                "refusing to change it"
            )
        return {"can_login": row[0], "comment": row[2]}

    @staticmethod
    def _database_owner(cur, database):
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,))
        row = cur.fetchone()
        return row[0] if row else None

    def _end_sessions(self, cur, role):
        try:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE usename = %s AND pid <> pg_backend_pid()",
                (role,),
            )
            ended = cur.fetchone()[0]
        except pg_errors.InsufficientPrivilege:
            self.log.warning("could not end the role's open sessions (not a member of the role)")
            return
        if ended:
            self.log.info("ended the role's open sessions", sessions=ended)

    def _retrying(self, what, conn, step):
        """Run step until it succeeds or fails for good; transient failures (a concurrent
        bootstrap, a lock) are retried while time is left. Each attempt's lock and
        statement waits end before the deadline."""
        attempt = 0
        last = None
        while True:
            self._bound(conn, what, attempt=attempt, last=last)
            try:
                return step()
            except psycopg2.Error as error:
                transient = error.pgcode in _TRANSIENT_SQLSTATES or (
                    error.pgcode == "XX000" and "concurrently" in str(error)
                )
                if not transient:
                    raise
                attempt += 1
                last = error
                pause = min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5)
                pause = max(0.0, min(pause, self._remaining() - ATTEMPT_MARGIN_SECONDS))
                self.log.info("retrying after a concurrent change", step=what, sqlstate=error.pgcode,
                              attempt=attempt)
                time.sleep(pause)

    def _remaining(self):
        return self._deadline - time.monotonic()

    def _check_time(self, what, attempt=0, last=None):
        """Seconds left for the next step; BootstrapError when below the margin, so the
        error is ours and clear, not a Lambda timeout."""
        remaining = self._remaining()
        if remaining >= ATTEMPT_MARGIN_SECONDS:
            return remaining
        detail = ""
        if last is not None:
            detail = (f" after {attempt} attempt{'s' if attempt != 1 else ''} (last: {_first_line(last)}, "
                      f"SQLSTATE {last.pgcode})")
        raise BootstrapError(self.log.mask(
            f"ran out of time: {self._subject} stopped at {what}{detail}, {max(0.0, remaining):.1f} s before "
            "its deadline; it is safe to run again (another session may hold a lock on the service's "
            "role, database or schema)"
        ))

    def _bound(self, conn, what, attempt=0, last=None):
        """Cap the session's lock and statement waits by the time left."""
        budget_ms = int((self._check_time(what, attempt, last) - ATTEMPT_MARGIN_SECONDS) * 1000)
        budget_ms = max(100, budget_ms)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                (str(min(LOCK_TIMEOUT_MS, budget_ms)), str(min(STATEMENT_TIMEOUT_MS, budget_ms))),
            )

    # -- connections ------------------------------------------------------------------------------

    def _admin_connection(self, dbname):
        settings = self.settings
        password = self.credentials.admin_password()
        remaining = self._check_time(f"connecting to database {dbname!r}")
        try:
            conn = self._connect(
                host=settings.host,
                port=settings.port,
                dbname=dbname,
                user=settings.admin_username,
                password=password,
                sslmode=settings.sslmode,
                sslrootcert=settings.ca_bundle,
                # libpq: whole seconds, at least 2
                connect_timeout=max(2, min(10, int(remaining - ATTEMPT_MARGIN_SECONDS))),
                application_name=APPLICATION_NAME,
                # Never wait long behind another session's lock: fail, and the step is retried.
                options=f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except psycopg2.OperationalError as error:
            raise BootstrapError(
                self.log.mask(
                    f"cannot connect to database {dbname!r} at {settings.host}:{settings.port} as "
                    f"{settings.admin_username!r} over TLS (sslmode {settings.sslmode}, CA bundle "
                    f"{settings.ca_bundle}): {_first_line(error)}"
                )
            ) from None
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        return conn


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
