"""`fargate-platform local up|down|status|password`: the whole platform on this machine.

    fargate-platform local up        # emulator + PostgreSQL, AWS profile, `sceptre launch local -y`
    fargate-platform local status    # what runs, where, and the local stacks' states
    fargate-platform local password SERVICE   # one service's database password (for psql)
    fargate-platform local down      # stop everything, remove .local/ and the profile

`up` is safe to run again: a running emulator (and its PostgreSQL server) is
reused, a stopped PostgreSQL server is started again, and Sceptre launches only
what changed. A failed `up` stops what it started itself. One local platform runs
on a machine at a time (they would share the emulator port and the AWS profile): a
second project's `up` names the one that runs. State lives in <project>/.local/
(emulator pid file and log, PostgreSQL's throwaway CA in .local/postgres/, unpacked
Lambda code); as root, PostgreSQL's own files live in a folder of the postgres OS
user's (see fargate_platform/local/postgres.py), removed by `down` too.
The emulator listens on 127.0.0.1:4750 (FARGATE_PLATFORM_EMULATOR_PORT or
--port to change it). `up` writes one AWS profile, fargate-platform-local, to the
AWS config and credentials files (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE
when set, else ~/.aws/config and ~/.aws/credentials), touching no other profile,
so plain `sceptre launch local` works from any shell while the emulator runs.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fargate_platform import names
from fargate_platform.errors import PlatformError

ENVIRONMENT = "local"
PROFILE = "fargate-platform-local"
PROJECT_CODE = "fargate-platform"
DEFAULT_PORT = 4750
PORT_VARIABLE = "FARGATE_PLATFORM_EMULATOR_PORT"
STATE_FOLDER = ".local"
DUMMY_KEY = "testing"  # the emulator accepts any credentials; these are not secrets
START_TIMEOUT = 60
UP_COMMAND = "bash scripts/local.sh up"


class LocalError(PlatformError):
    """A problem the user can act on; printed without a traceback."""


class EmulatorRefused(LocalError):
    """The emulator's control API answered an error; `detail` is its own message."""

    def __init__(self, message, detail):
        super().__init__(message)
        self.detail = detail


# -- the AWS profile ---------------------------------------------------------------------------


class AwsProfileFile:
    """One section of an AWS config/credentials file, edited without touching the others."""

    def __init__(self, path):
        self.path = Path(path)

    def _lines(self):
        return self.path.read_text().splitlines() if self.path.exists() else []

    @staticmethod
    def _bounds(lines, header):
        start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
        if start is None:
            return None
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        return start, end

    def section(self, header):
        """The keys and values of one section ({} when it is absent)."""
        lines = self._lines()
        bounds = self._bounds(lines, header)
        if not bounds:
            return {}
        pairs = (line.split("=", 1) for line in lines[bounds[0] + 1:bounds[1]] if "=" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def set_section(self, header, values):
        lines = self._lines()
        section = [header] + [f"{key} = {value}" for key, value in values.items()]
        bounds = self._bounds(lines, header)
        if bounds:
            start, end = bounds
            lines[start:end] = section + ([""] if end < len(lines) else [])
        else:
            if lines and lines[-1].strip():
                lines.append("")
            lines += section
        self._write(lines)

    def remove_section(self, header):
        lines = self._lines()
        bounds = self._bounds(lines, header)
        if bounds:
            del lines[bounds[0]:bounds[1]]
            self._write(lines)

    def _write(self, lines):
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = "\n".join(lines).strip("\n")
        self.path.write_text(text + "\n" if text else "")
        os.chmod(self.path, 0o600)


def aws_files():
    home = Path.home() / ".aws"
    config = os.environ.get("AWS_CONFIG_FILE") or home / "config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials"
    return AwsProfileFile(config), AwsProfileFile(credentials)


def write_profile(endpoint_url, region):
    config, credentials = aws_files()
    config.set_section(f"[profile {PROFILE}]",
                       {"region": region, "endpoint_url": endpoint_url, "output": "json"})
    credentials.set_section(f"[{PROFILE}]", {"aws_access_key_id": DUMMY_KEY,
                                             "aws_secret_access_key": DUMMY_KEY})


def profile_endpoint():
    """The endpoint the AWS profile names now (another project's `up` may have written it)."""
    return aws_files()[0].section(f"[profile {PROFILE}]").get("endpoint_url")


def remove_profile():
    config, credentials = aws_files()
    config.remove_section(f"[profile {PROFILE}]")
    credentials.remove_section(f"[{PROFILE}]")


# -- the emulator process ----------------------------------------------------------------------


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
        if not _port_free(self.port):
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
                [str(python), "-m", "fargate_platform.local.emulator", "--port", str(self.port),
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
        return (b"fargate_platform.local.emulator" in argv
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


def _port_free(port):
    import socket

    with socket.socket() as probe:
        # As the server will: connections of a previous run in TIME_WAIT do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(path, lines=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- the summary -------------------------------------------------------------------------------


def aws_client(service, endpoint_url, region):
    import boto3

    return boto3.session.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region,
    ).client(service, endpoint_url=endpoint_url)


def summary_lines(project_dir, endpoint_url, database):
    """What a newcomer needs after `up`: hosts, databases, SSM names, a psql line (no passwords)."""
    from fargate_platform.config import load_environment

    environment = load_environment(project_dir, ENVIRONMENT)
    ssm = aws_client("ssm", endpoint_url, environment.region)
    root = names.parameter_root(PROJECT_CODE, ENVIRONMENT)
    command = _command_name()
    lines = [f"Local platform: AWS emulator {endpoint_url} (profile {PROFILE}), "
             f"PostgreSQL 127.0.0.1:{database['port']}"]
    for name, service in sorted(environment.services.items()):
        username_parameter = names.db_username_parameter(root, name)
        password_parameter = names.db_password_parameter(root, name)
        try:
            username = ssm.get_parameter(Name=username_parameter,
                                         WithDecryption=True)["Parameter"]["Value"]
        except Exception:  # noqa: BLE001 - not created (yet): say so instead of failing
            username = None
        lines += [
            "",
            f"{name}",
            f"  url host:  {service.host}",
            f"  database:  {service.database}",
            f"  ssm:       {username_parameter}",
            f"             {password_parameter}",
        ]
        if username:
            lines.append(
                f'  psql:      PGPASSWORD="$({command} local password {name})" psql '
                f'"host=127.0.0.1 port={database["port"]} dbname={service.database} '
                f'user={username} sslmode=verify-full sslrootcert={database["ca_cert_path"]}"')
        else:
            lines.append("  psql:      (no credentials yet: the service's launch did not finish)")
    example = min(environment.services, default="order")
    lines += [
        "",
        f"In a new shell, from {project_dir}: `. {_in_venv('activate')}` puts sceptre and "
        "fargate-platform on PATH, then e.g.",
        f"  sceptre launch {ENVIRONMENT}/services/{example}     sceptre status {ENVIRONMENT}",
        f"  fargate-platform local status     {UP_COMMAND.replace(' up', ' down')}  (stops it all)",
    ]
    return lines


def _in_venv(program):
    """`program` of this virtualenv, as a path relative to the current folder if it can be."""
    script = Path(sys.executable).with_name(program)
    if not script.exists():
        return program
    try:
        return os.path.relpath(script)
    except ValueError:
        return str(script)


def _command_name():
    return _in_venv("fargate-platform")


# -- subcommands -------------------------------------------------------------------------------


def run_up(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    _step(f"local AWS emulator on {platform.endpoint_url} (state {platform.state_dir})")
    started = platform.start()
    print("    started" if started else "    already running: reused", flush=True)
    try:
        code = _launch(project, platform, args)
    except BaseException as error:
        if started:
            _stop_after_failure(platform)
            if isinstance(error, LocalError):
                raise LocalError(f"{error}; stopped what this run started: fix that, then "
                                 f"run `{UP_COMMAND}` again") from None
        raise
    if code != 0:
        if started:
            _stop_after_failure(platform)
            kept = "stopped the emulator and PostgreSQL this run started"
        else:
            kept = "the emulator keeps running"
        print(f"fargate-platform local: error: sceptre launch {ENVIRONMENT} failed (exit {code}); {kept} "
              f"(log: {platform.log_file}): fix the cause, then run `{UP_COMMAND}` again",
              file=sys.stderr)
    return code


def _stop_after_failure(platform):
    platform.stop()
    if profile_endpoint() == platform.endpoint_url:
        remove_profile()


def _launch(project, platform, args):
    """PostgreSQL, the AWS profile, `sceptre launch local -y` and the summary; the exit code."""
    database = platform.ensure_database()
    print(f"    PostgreSQL on 127.0.0.1:{database['port']}, CA {database['ca_cert_path']}",
          flush=True)
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    write_profile(platform.endpoint_url, region)
    print(f"    AWS profile {PROFILE} written ({aws_files()[0].path})", flush=True)
    if args.no_launch:
        return 0
    _step(f"sceptre launch {ENVIRONMENT} -y")
    sceptre = Path(sys.executable).with_name("sceptre")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("AWS_ENDPOINT_URL") and key not in ("AWS_PROFILE",
                                                                      "AWS_DEFAULT_PROFILE")}
    env["AWS_ENDPOINT_URL"] = platform.endpoint_url
    result = subprocess.run([str(sceptre if sceptre.exists() else "sceptre"), "launch",
                             ENVIRONMENT, "-y"], cwd=project, env=env)
    if result.returncode != 0:
        return result.returncode
    _step("summary")
    print("\n".join(summary_lines(project, platform.endpoint_url, database)), flush=True)
    return 0


def run_down(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    stopped = platform.remove()
    remove_profile()
    print(("stopped the local platform; " if stopped else "nothing was running; ")
          + f"removed {platform.state_dir}, PostgreSQL's data and the AWS profile {PROFILE}")
    return 0


def run_status(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    record = platform.running()
    if not record:
        print(f"local platform: not running (state {platform.state_dir}"
              f"{'' if platform.state_dir.exists() else ', absent'})")
        return 3
    database = platform.request("postgres")
    print(f"emulator:   {platform.endpoint_url} (pid {record['pid']}, log {platform.log_file})")
    print(f"postgresql: {'running' if database.get('running') else 'STOPPED'} on "
          f"127.0.0.1:{database.get('port')}, CA {database.get('ca_cert_path')}")
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    cfn = aws_client("cloudformation", platform.endpoint_url, region)
    prefix = f"{PROJECT_CODE}-{ENVIRONMENT}-"
    stacks = [s for page in cfn.get_paginator("describe_stacks").paginate()
              for s in page["Stacks"] if s["StackName"].startswith(prefix)]
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        print(f"  {stack['StackName']:<55} {stack['StackStatus']}")
    if not stacks:
        print("  no stacks launched")
    return 0 if database.get("running") else 1


def run_password(args):
    """Prints one service's database password from the emulator's SSM (for PGPASSWORD)."""
    service = names.validate_service_name(args.service)
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    if not platform.running():
        raise LocalError("the local platform is not running: `bash scripts/local.sh up` first")
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    parameter = names.db_password_parameter(names.parameter_root(PROJECT_CODE, ENVIRONMENT),
                                            service)
    ssm = aws_client("ssm", platform.endpoint_url, region)
    try:
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise LocalError(f"no password for service {service!r} ({parameter} is missing)") from None
    sys.stdout.write(value + "\n")
    return 0


def _step(text):
    print(f"\n==> {text}", flush=True)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "local", help="run the whole platform on this machine (emulator + PostgreSQL)",
        description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)

    def common(sub):
        sub.add_argument("--project-dir", default=None,
                         help="the Sceptre project root (default: found from the current folder)")
        sub.add_argument("--port", type=int, default=None,
                         help=f"emulator port (default ${PORT_VARIABLE} or {DEFAULT_PORT})")
        return sub

    up = common(actions.add_parser(
        "up", help="start the emulator and PostgreSQL, write the AWS profile, launch `local`"))
    up.add_argument("--no-launch", action="store_true",
                    help="start everything but do not run `sceptre launch local`")
    up.set_defaults(func=run_up)
    common(actions.add_parser("down", help="stop everything and remove .local/ and the profile")
           ).set_defaults(func=run_down)
    common(actions.add_parser("status", help="what runs, and the local stacks' states")
           ).set_defaults(func=run_status)
    password = common(actions.add_parser(
        "password", help="print a service's database password (for PGPASSWORD=$(...))"))
    password.add_argument("service")
    password.set_defaults(func=run_password)
    return parser
