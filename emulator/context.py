"""What the patches share: the emulator's address, state folder and PostgreSQL server.

One EmulatorContext per emulator process, set by `configure()` before the
patches are applied; the patched moto code reaches it through `current()`.
"""
import threading
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"


class EmulatorNotConfigured(RuntimeError):
    """A patched code path ran before configure() (a bug in the emulator's start-up)."""


class LocalDatabase:
    """The local PostgreSQL server behind every AWS::RDS::DBCluster of this emulator.

    One server for all clusters (like one Aurora cluster per environment): its
    state lives in <state-dir>/postgres and is kept across restarts, so the port
    and the throwaway CA stay the same while the state folder exists.
    """

    def __init__(self, state_dir):
        self.state_dir = Path(state_dir)
        self._lock = threading.Lock()
        self._server = None

    def _postgres(self):
        if self._server is None:
            # Imported here: LocalPostgres needs psycopg2/cryptography only once used.
            from fargate_platform.local.postgres import LocalPostgres

            self._server = LocalPostgres(self.state_dir)
        return self._server

    def ensure_running(self):
        """Start the server unless it runs (also after someone stopped it); returns it."""
        with self._lock:
            return self._postgres().start()

    def stop(self):
        with self._lock:
            if self._server is not None:
                self._server.stop()

    def describe(self):
        """Plain facts for the control API and `local status`."""
        server = self._postgres()
        running = server.is_running
        facts = {"running": running, "state_dir": str(server.state_dir),
                 "server_dir": str(server.server_dir), "host": server.host,
                 "ca_cert_path": server.ca_cert_path}
        try:
            facts["port"] = server.port
        except Exception:  # never started: no port yet
            facts["port"] = None
        return facts


class EmulatorContext:
    def __init__(self, state_dir, port, host=DEFAULT_HOST, lambda_python=None):
        self.state_dir = Path(state_dir).absolute()
        self.host = host
        self.port = int(port)
        self.lambda_python = lambda_python
        self.database = LocalDatabase(self.state_dir / "postgres")

    @property
    def endpoint_url(self):
        return f"http://{self.host}:{self.port}"


_current = None


def configure(state_dir, port, host=DEFAULT_HOST, lambda_python=None):
    global _current
    _current = EmulatorContext(state_dir, port, host=host, lambda_python=lambda_python)
    return _current


def current():
    if _current is None:
        raise EmulatorNotConfigured("the emulator context is not configured")
    return _current
