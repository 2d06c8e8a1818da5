"""A real PostgreSQL server in a state folder, for the local platform and the tests.

    pg = LocalPostgres("/tmp/state").start()
    pg.set_login("platform_admin", password, superuser=False)   # RDS-like master user
    psycopg2.connect(host=pg.host, port=pg.port, user=..., password=...,
                     sslmode="verify-full", sslrootcert=pg.ca_cert_path)
    pg.stop()

What it sets up, and why:
- TCP on 127.0.0.1 only, TLS required (`hostssl` lines only) with SCRAM password
  authentication: clients connect exactly as they do to Aurora (verify-full).
- The TLS server certificate (CN/SAN 127.0.0.1 and localhost) is signed by a throwaway
  CA generated here; the CA's private key is never written, so nothing else can be
  signed by it. `ca_cert_path` is the bundle clients verify against.
- The unix socket lives in the server folder with mode 0700: only the OS user owning the
  server (and root) reaches it, as the `postgres` superuser (`connect_admin`).
- PostgreSQL refuses to run as root: when we are root, initdb/pg_ctl/postgres run as
  the `postgres` OS user, and what that user must reach (data, socket, server key, log)
  lives in a server folder of its own, under its home: a project inside a 0700 home
  folder stays 0700. That folder is named after the state folder (one per state folder,
  with an `owner` file naming it) and `remove()` deletes it. As anyone else the server
  runs as us, and the server folder is the state folder.
- fsync and synchronous commit are off: this server holds throwaway or local data.

The state folder (the CA and the port, for clients) and the server folder are kept
between start() and stop(), so a restart keeps the data and, when it is still free, the
same port.
"""
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from fargate_platform.errors import PlatformError
from fargate_platform.local import postgres_tls
from fargate_platform.local.ports import LISTEN_HOST, free_port, port_free

SERVER_OS_USER = "postgres"  # used only when running as root
SERVER_FOLDERS = "fargate-platform"  # under the server OS user's home, as root
SUPERUSER = "postgres"
MAX_CONNECTIONS = 300  # 50 concurrent bootstraps hold up to two connections each
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_UNIX_SOCKET_PATH_MAX = 107  # sun_path limit on Linux, including the socket file name


class LocalPostgresError(PlatformError):
    """The local PostgreSQL server could not be set up, started or stopped."""


def find_bin_dir():
    """The folder holding initdb/pg_ctl: $PG_BIN_DIR, Debian's newest version, or PATH."""
    configured = os.environ.get("PG_BIN_DIR")
    if configured:
        if not (Path(configured) / "pg_ctl").is_file():
            raise LocalPostgresError(f"PG_BIN_DIR={configured} holds no pg_ctl: name the folder "
                                     "of PostgreSQL's server programs, or unset it")
        return Path(configured)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise LocalPostgresError(
        "PostgreSQL server binaries not found: install the postgresql package "
        "(scripts/bootstrap.sh does) or set PG_BIN_DIR to the folder holding pg_ctl"
    )


def _server_os_user():
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise LocalPostgresError(
            f"running as root needs the OS user {SERVER_OS_USER!r} (installed with the "
            "postgresql package): PostgreSQL refuses to run as root"
        ) from None


def server_folder(state_dir):
    """Where the server's own files live for `state_dir`: the state folder itself, or, as
    root, `~postgres/fargate-platform/<hash of the state folder's path>`."""
    state_dir = Path(state_dir).absolute()
    if os.geteuid() != 0:
        return state_dir
    home = Path(_server_os_user().pw_dir)
    base = home if home.is_dir() else Path(tempfile.gettempdir())
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:16]
    return base / SERVER_FOLDERS / digest


class LocalPostgres:
    """One PostgreSQL server whose data, socket, certificates and log live in `state_dir`.

    Interface: start(), stop(), is_running, host, port, ca_cert_path,
    set_login(username, password, superuser=True), connect_admin(dbname).

    Layout: state_dir holds ca.crt (the CA to verify against) and port; the server folder
    (server_folder(state_dir)) holds data/ (PGDATA), socket/ (unix socket), tls/ (server
    key and certificate), postgresql.log and, as root, `owner`.
    """

    def __init__(self, state_dir, port=None, bin_dir=None):
        self.state_dir = Path(state_dir).absolute()
        self.server_dir = server_folder(self.state_dir)
        self._requested_port = port
        self._bin_dir = Path(bin_dir) if bin_dir else None
        self._data_dir = self.server_dir / "data"
        self._socket_dir = self.server_dir / "socket"
        self._tls_dir = self.server_dir / "tls"
        self._log_file = self.server_dir / "postgresql.log"
        self._port_file = self.state_dir / "port"
        self._as_root = os.geteuid() == 0
        self._port = None

    # -- what clients need ------------------------------------------------------------

    @property
    def host(self):
        return LISTEN_HOST

    @property
    def port(self):
        """The TCP port (the last one used if the server is stopped)."""
        if self._port is None and self._port_file.exists():
            self._port = int(self._port_file.read_text().strip())
        if self._port is None:
            raise LocalPostgresError(f"the server in {self.state_dir} has not been started yet")
        return self._port

    @property
    def ca_cert_path(self):
        """PEM file of the throwaway CA that signed the server certificate
        (`<state_dir>/ca.crt`, the path the local environment's config names)."""
        return str(self.state_dir / "ca.crt")

    @property
    def is_running(self):
        pid_file = self._data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # alive, owned by another user
        return True

    # -- lifecycle ----------------------------------------------------------------------

    def start(self):
        """Initialise the state folder if needed and start the server; returns self."""
        if self.is_running:
            self._port = int(self._port_file.read_text().strip())
            return self
        self._bin("pg_ctl")  # no server programs: say so before making anything
        self._prepare_state_dir()
        if not (self._data_dir / "PG_VERSION").exists():
            self._initdb()
        if not ((self._tls_dir / "server.key").exists() and Path(self.ca_cert_path).exists()):
            self._write_tls()
        last_error = None
        for attempt in range(5):
            port = self._choose_port(fresh=attempt > 0)
            self._write_config(port)
            result = self._pg_ctl(
                "start", "-w", "-t", "60", "-l", str(self._log_file), check=False
            )
            if result.returncode == 0:
                self._port = port
                self._port_file.write_text(f"{port}\n")
                return self
            last_error = result.stderr.strip() or result.stdout.strip()
            if "already in use" not in self._log_tail() and "could not bind" not in self._log_tail():
                break  # not a port race: retrying would fail the same way
        raise LocalPostgresError(
            f"PostgreSQL did not start in {self.server_dir}: "
            f"{self._log_cause() or last_error or 'no message'} (log: {self._log_file})"
        )

    def stop(self):
        """Stop the server (fast shutdown: open sessions are disconnected). Keeps the data."""
        if not self.is_running:
            return
        result = self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast", check=False)
        if result.returncode != 0 and self.is_running:
            raise LocalPostgresError(
                f"PostgreSQL in {self.state_dir} did not stop: {result.stderr.strip()}"
            )

    def remove(self):
        """Stop the server and delete its data: the state folder and the server folder."""
        self.stop()
        for folder in {self.server_dir, self.state_dir}:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- roles and connections ----------------------------------------------------------

    def connect_admin(self, dbname="postgres"):
        """A psycopg2 connection (autocommit) as the superuser over the unix socket."""
        import psycopg2

        conn = psycopg2.connect(
            host=str(self._socket_dir), port=self.port, user=SUPERUSER, dbname=dbname,
            connect_timeout=10,
        )
        conn.autocommit = True
        return conn

    def set_login(self, username, password, superuser=True):
        """Create or alter a login role with this password.

        superuser=False gives what an RDS master user has instead of SUPERUSER:
        CREATEDB and CREATEROLE (the local emulator applies an Aurora cluster's master
        user with it; tests use it so that they run with RDS's privileges).
        """
        from psycopg2 import sql

        if not isinstance(username, str) or not _ROLE_NAME.match(username):
            raise LocalPostgresError(
                f"invalid role name {username!r}: letters, digits and '_', at most 63"
            )
        if not isinstance(password, str) or not password or "\x00" in password:
            raise LocalPostgresError(f"invalid password for role {username!r}: empty or not text")
        attributes = "SUPERUSER" if superuser else "NOSUPERUSER CREATEDB CREATEROLE"
        conn = self.connect_admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL("{} ROLE {} WITH LOGIN " + attributes + " PASSWORD {}").format(
                        sql.SQL(verb), sql.Identifier(username), sql.Literal(password)
                    )
                )
        finally:
            conn.close()

    # -- internals ----------------------------------------------------------------------

    def _bin(self, name):
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return str(self._bin_dir / name)

    def _run_as_server_user(self, argv, check=True):
        program = Path(argv[0]).name
        if self._as_root:
            argv = ["runuser", "-u", SERVER_OS_USER, "--"] + argv
        result = subprocess.run(
            argv, cwd=self.server_dir, capture_output=True, text=True, timeout=120,
            env={**os.environ, "LC_ALL": "C"},
        )
        if check and result.returncode != 0:
            raise LocalPostgresError(
                f"{program} failed "
                f"({' '.join(argv)}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _pg_ctl(self, command, *options, check=True):
        return self._run_as_server_user(
            [self._bin("pg_ctl"), command, "-D", str(self._data_dir), "-s", *options],
            check=check,
        )

    def _server_ids(self):
        if not self._as_root:
            return None
        entry = _server_os_user()
        return entry.pw_uid, entry.pw_gid

    def _give_to_server_user(self, path):
        ids = self._server_ids()
        if ids:
            os.chown(path, *ids)

    def _prepare_state_dir(self):
        socket_path = self._socket_dir / ".s.PGSQL.65535"
        if len(str(socket_path)) > _UNIX_SOCKET_PATH_MAX:
            raise LocalPostgresError(
                f"state folder path too long for a unix socket ({len(str(socket_path))} > "
                f"{_UNIX_SOCKET_PATH_MAX} characters): choose a shorter one than {self.state_dir}"
            )
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._as_root:
            self._check_reachable_by_server_user()
            for folder in (self.server_dir.parent, self.server_dir):
                folder.mkdir(mode=0o700, exist_ok=True)
                os.chmod(folder, 0o700)
                self._give_to_server_user(folder)
            # Which state folder this server belongs to, for whoever finds it under ~postgres.
            (self.server_dir / "owner").write_text(f"{self.state_dir}\n")
        for folder in (self._socket_dir, self._tls_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
            self._give_to_server_user(folder)

    def _check_reachable_by_server_user(self):
        uid, _ = self._server_ids()
        for parent in self.server_dir.parents:
            if not parent.exists():
                continue  # made below, for the server OS user
            info = parent.stat()
            if info.st_uid != uid and not info.st_mode & 0o001:
                raise LocalPostgresError(
                    f"the {SERVER_OS_USER!r} OS user that runs PostgreSQL cannot enter {parent} "
                    f"(mode {oct(info.st_mode & 0o777)}), where its server folder "
                    f"{self.server_dir} is: let it enter ({parent} is not a home folder)"
                )

    def _initdb(self):
        self._run_as_server_user(
            [
                self._bin("initdb"), "-D", str(self._data_dir), "-U", SUPERUSER,
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            ]
        )
        # Only TLS on TCP, only from loopback, always with a password. The unix socket is
        # trusted because its folder is private to the server's OS user (and root).
        self._write_server_file(
            "pg_hba.conf",
            "local   all  all                 trust\n"
            "hostssl all  all  127.0.0.1/32   scram-sha-256\n",
        )
        with open(self._data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\ninclude_if_exists = 'fargate_platform.conf'\n")

    def _write_server_file(self, name, text, mode=0o600):
        path = self._data_dir / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, mode)
        self._give_to_server_user(path)

    def _write_config(self, port):
        self._write_server_file(
            "fargate_platform.conf",
            f"listen_addresses = '{LISTEN_HOST}'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{self._socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            f"max_connections = {MAX_CONNECTIONS}\n"
            "password_encryption = 'scram-sha-256'\n"
            "ssl = on\n"
            f"ssl_cert_file = '{self._tls_dir / 'server.crt'}'\n"
            f"ssl_key_file = '{self._tls_dir / 'server.key'}'\n"
            "ssl_min_protocol_version = 'TLSv1.2'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n",
        )

    def _choose_port(self, fresh):
        if self._requested_port and not fresh:
            return int(self._requested_port)
        if not fresh and self._port_file.exists():
            previous = int(self._port_file.read_text().strip())
            if port_free(previous):
                return previous
        return free_port()

    def _log_cause(self):
        """The server log's last FATAL or ERROR line (else its last line), for a one-line error."""
        lines = [line.strip() for line in self._log_tail().splitlines() if line.strip()]
        fatal = [line for line in lines if "FATAL" in line or "ERROR" in line]
        return (fatal or lines or [""])[-1]

    def _log_tail(self, lines=20):
        try:
            return "\n".join(self._log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _write_tls(self):
        ca_cert, server_cert, server_key = postgres_tls.certificates(LISTEN_HOST)
        files = {
            self.ca_cert_path: (ca_cert, 0o644),
            "server.crt": (server_cert, 0o644),
            "server.key": (server_key, 0o600),  # PostgreSQL refuses a key readable by others
        }
        for name, (data, mode) in files.items():
            path = self._tls_dir / name  # an absolute name (the CA) replaces the folder
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(path, mode)
            if path.parent == self._tls_dir:  # the server reads its own key and certificate
                self._give_to_server_user(path)
