"""The local platform's processes for one project folder: the emulator (moto's server and
the project's layer, from .venvs/emulator) and, through it, its PostgreSQL server.

State lives in <project>/.local/ (the emulator's pid file and log, PostgreSQL's throwaway
CA in .local/postgres/, unpacked Lambda code); as root, PostgreSQL's own files live in a
folder of the postgres OS user's (fargate_platform/local/postgres.py). The emulator
listens on 127.0.0.1:4750 (FARGATE_PLATFORM_EMULATOR_PORT or --port to change it). One
local platform runs on a machine at a time: they would share the port and the AWS profile.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from fargate_platform.errors import PlatformError
from fargate_platform.local.aws_profile import PROFILE, profile_endpoint
from fargate_platform.local.ports import port_free

DEFAULT_PORT = 4750
PORT_VARIABLE = "FARGATE_PLATFORM_EMULATOR_PORT"
STATE_FOLDER = ".local"
START_TIMEOUT = 60


class LocalError(PlatformError):
    """A problem the user can act on; printed without a traceback."""


class EmulatorRefused(LocalError):
    """The emulator's control API answered an error; `detail` is its own message."""

    def __init__(self, message, detail):
        super().__init__(message)
        self.detail = detail


def package_root():
    """The folder holding the fargate_platform package (and .venvs/, made by bootstrap.sh)."""
    return Path(__file__).resolve().parents[2]


def find_project(start=None):
    """The Sceptre project root: `start` itself when given, else the nearest folder with
    config/config.yaml from the current folder up (or the installed project's folder)."""
    if start is not None:
        folder = Path(start).resolve()
        if (folder / "config" / "config.yaml").is_file():
            return folder
        raise LocalError(f"--project-dir {folder}: not a Sceptre project (no config/config.yaml)")
    here = Path(os.getcwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "config" / "config.yaml").is_file():
            return folder
    fallback = package_root()
    if (fallback / "config" / "config.yaml").is_file():
        return fallback
    raise LocalError(f"no Sceptre project (config/config.yaml) in {here} or above: "
                     "run this from the project, or give --project-dir")


class LocalPlatform:
    """The emulator and its PostgreSQL server for one project folder."""

    def __init__(self, project_dir, port=None):
        self.project_dir = Path(project_dir).resolve()
        self.state_dir = self.project_dir / STATE_FOLDER
        self.port = int(port or os.environ.get(PORT_VARIABLE) or DEFAULT_PORT)
        self.pid_file = self.state_dir / "emulator.json"
        self.log_file = self.state_dir / "emulator.log"

    @property
    def endpoint_url(self):
        return f"http://127.0.0.1:{self.port}"

    # what runs

    def recorded(self):
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def health(self, port=None):
        try:
            return self.request("health", port=port, timeout=2)
        except (OSError, ValueError):
            return None

    def request(self, route, method="GET", port=None, timeout=60):
        url = f"http://127.0.0.1:{port or self.port}/_fargate_platform/{route}"
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail)["error"]
            except (ValueError, KeyError, TypeError):
                pass
            raise EmulatorRefused(f"the emulator answered {error.code} to {method} {url}: {detail}",
                                  detail)

    def other_platform(self):
        """The project folder of another local platform that runs here (on our port, or
        where the AWS profile points), else None."""
        ports = {self.port}
        endpoint = profile_endpoint() or ""
        if endpoint.startswith("http://127.0.0.1:") and endpoint.rsplit(":", 1)[1].isdigit():
            ports.add(int(endpoint.rsplit(":", 1)[1]))
        for port in sorted(ports):
            health = self.health(port)
            if health and Path(health.get("state_dir", "")) != self.state_dir:
                return Path(health["state_dir"]).parent
        return None

    def running(self):
        """The recorded emulator's facts if it runs and serves this project's state, else None."""
        record = self.recorded()
        if not record or not _alive(record.get("pid")):
            return None
        health = self.health(record.get("port"))
        if health and health.get("pid") == record["pid"] and \
                Path(health.get("state_dir", "")) == self.state_dir:
            return record
        return None

    # start/stop

    def start(self):
        """Start the emulator unless it runs; returns True when it was started now."""
        record = self.running()
        if record:
            if int(record["port"]) != self.port:
                raise LocalError(
                    f"the local emulator already runs on port {record['port']}, not {self.port}: "
                    "run `fargate-platform local down` first to change the port")
            return False
        other = self.other_platform()
        if other:
            raise LocalError(
                f"another local platform runs on this machine, from {other}: stop it with "
                f"`bash {other}/scripts/local.sh down` first (one at a time: they share the "
                f"emulator port and the AWS profile {PROFILE})")
        if not port_free(self.port):
            raise LocalError(f"port {self.port} on 127.0.0.1 is in use: set {PORT_VARIABLE} "
                             "to a free port")
        python = Path(os.environ.get("FARGATE_PLATFORM_EMULATOR_PYTHON")
                      or package_root() / ".venvs" / "emulator" / "bin" / "python")
        if not python.exists():
            raise LocalError(f"{python} is missing: run `bash scripts/bootstrap.sh` first")
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(package_root())}
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [str(python), "-m", "emulator", "--port", str(self.port),
                 "--state-dir", str(self.state_dir)],
                cwd=self.project_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(json.dumps({"pid": process.pid, "port": self.port}))
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if process.poll() is not None:
                raise LocalError(f"the emulator exited (code {process.returncode}): "
                                 f"{_tail(self.log_file, 1)} (log: {self.log_file})")
            health = self.health()
            if health and health.get("pid") == process.pid:
                return True
            time.sleep(0.1)
        _terminate(process.pid)
        raise LocalError(f"the emulator did not answer within {START_TIMEOUT} s; see {self.log_file}")

    def _is_our_emulator(self, pid):
        """Whether `pid` is this project's emulator (a recorded pid may have been reused)."""
        if not _alive(pid):
            return False
        try:
            argv = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return bool(self.running())  # no /proc: ask the emulator itself
        return (b"emulator" in argv
                and str(self.state_dir).encode() in argv)

    def ensure_database(self):
        """Start PostgreSQL if it is not running (also after someone stopped it); its facts."""
        try:
            return self.request("postgres", method="POST")
        except EmulatorRefused as error:
            raise LocalError(f"PostgreSQL did not start: {error.detail}") from None

    def postgres(self):
        from fargate_platform.local.postgres import LocalPostgres

        return LocalPostgres(self.state_dir / "postgres")

    def stop(self):
        """Stop the emulator (it stops PostgreSQL), then make sure PostgreSQL is down too."""
        record = self.recorded()
        stopped = False
        if record and self._is_our_emulator(record.get("pid")):
            _terminate(int(record["pid"]))
            stopped = True
        postgres = self.postgres()
        if postgres.is_running:
            postgres.stop()
            stopped = True
        return stopped

    def remove(self):
        """Stop everything and delete the state: .local/ and PostgreSQL's server folder."""
        stopped = self.stop()
        self.postgres().remove()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return stopped


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid, timeout=30):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        _reap(pid)
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child (same process): don't leave a zombie
    except ChildProcessError:
        pass


def _tail(path, lines=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
