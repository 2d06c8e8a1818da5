"""The platform's sample service: an HTTP server that answers from its own database.

Configuration, as a task of the platform gets it (the task definition's environment and
secrets):
    HOST, PORT                      where to listen (PORT required; HOST default 0.0.0.0)
    SERVICE_NAME                    its name in answers and log lines (default "sample")
    DB_HOST, DB_PORT, DB_NAME       its database (DB_PORT default 5432)
    DB_USERNAME, DB_PASSWORD        its own role (ECS secrets from SSM)
    DB_SSLMODE                      default verify-full
    DB_SSLROOTCERT                  the CA bundle that verifies the server (required for verify-*)
    HEALTH_PATH                     default /health
    APP_VERSION                     the version it reports (default "1"): a deployment changes it

GET / and the health path answer JSON read over the service's connection:
{"service", "version", "instance" (host name/pid: which task answered), "database"
(current_database()), "user" (current_user), "visits"}; a database
it cannot reach gives 503 with the error's first line. It creates its table if absent and
logs one JSON line per event on stdout (what awslogs ships), the first naming a contact
e-mail address: what a log group's data protection policy masks.

Standard library and psycopg2 only.
"""
import datetime
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

CONTACT = "ops-oncall@example.com"  # logged once at start: the masking policy's sample identifier
INSTANCE = f"{socket.gethostname()}/{os.getpid()}"  # unique per task on Fargate (host) and locally (pid)


def log(message, **fields):
    record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
              "message": message, **fields}
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


class Settings:
    def __init__(self, environ):
        missing = [name for name in ("PORT", "DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD") if not environ.get(name)]
        if missing:
            raise SystemExit(f"sample service: environment variable(s) {', '.join(missing)} not set")
        self.host = environ.get("HOST", "0.0.0.0")
        self.port = int(environ["PORT"])
        self.name = environ.get("SERVICE_NAME", "sample")
        self.health_path = environ.get("HEALTH_PATH", "/health")
        self.version = environ.get("APP_VERSION", "1")
        self.connection = {
            "host": environ["DB_HOST"], "port": int(environ.get("DB_PORT", "5432")),
            "dbname": environ["DB_NAME"], "user": environ["DB_USERNAME"], "password": environ["DB_PASSWORD"],
            "sslmode": environ.get("DB_SSLMODE", "verify-full"), "connect_timeout": 5,
            "application_name": self.name,
        }
        if environ.get("DB_SSLROOTCERT"):
            self.connection["sslrootcert"] = environ["DB_SSLROOTCERT"]


class Database:
    """One connection, opened on first use and again after a failure."""

    def __init__(self, settings):
        self._settings = settings
        self._connection = None
        self._lock = threading.Lock()

    def answer(self):
        with self._lock:
            try:
                return self._query()
            except psycopg2.Error:
                self._close()
                raise

    def _query(self):
        if self._connection is None:
            self._connection = psycopg2.connect(**self._settings.connection)
            self._connection.autocommit = True
            with self._connection.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, "
                               "at timestamptz NOT NULL DEFAULT now())")
        with self._connection.cursor() as cursor:
            cursor.execute("INSERT INTO visits DEFAULT VALUES")
            cursor.execute("SELECT current_database(), current_user, (SELECT count(*) FROM visits)")
            database, user, visits = cursor.fetchone()
        return {"service": self._settings.name, "version": self._settings.version, "instance": INSTANCE,
                "database": database, "user": user, "visits": visits}

    def _close(self):
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg2.Error:
                pass
            self._connection = None


def handler_for(settings, database):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path not in ("/", settings.health_path):
                return self._send(404, {"error": f"no route {self.path}"})
            try:
                return self._send(200, database.answer())
            except psycopg2.Error as error:
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                log("database unavailable", service=settings.name, error=reason)
                return self._send(503, {"service": settings.name, "error": reason})

        def _send(self, status, document):
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            log("request", service=settings.name, line=fmt % args)

    return Handler


def main(environ):
    settings = Settings(environ)
    server = ThreadingHTTPServer((settings.host, settings.port), handler_for(settings, Database(settings)))
    # ECS stops a task with SIGTERM, then SIGKILL after the stop timeout: finish and leave.
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start())
    log("started", service=settings.name, listen=f"{settings.host}:{settings.port}", contact=CONTACT)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log("stopped", service=settings.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
