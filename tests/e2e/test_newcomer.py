"""The newcomer's path: a fresh copy of the project in a private (0700) folder, the README's
first command, each line its summary prints, a new shell, `down`; as root and as an
ordinary user the test creates (and removes after).

Each copy holds exactly the files a clone would (git's tracked and unignored files, as they
are in the work tree), so `bash scripts/local.sh up` installs its own virtualenvs there,
as on a fresh machine. Every copy gets its own emulator port and AWS files: a developer's
own local platform is never touched.
"""
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from fargate_platform.local.postgres import LocalPostgres
from fargate_platform.local.ports import port_free

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
INSTALL_AND_LAUNCH = 1200  # seconds: virtualenvs from the package index, then the launch
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"  # found with this test's PATH
PSQL_LINE = re.compile(r"^\s*psql:\s+(PGPASSWORD=.*)$", re.MULTILINE)


def fresh_copy(destination):
    """The project as a fresh clone of this work tree would be: no .venv, no .local."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def newcomer_environment(home, port):
    """A new shell's environment: no virtualenv on PATH, nothing of this test run's AWS."""
    venv_bin = str(Path(sys.executable).parent)
    path = ":".join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if p != venv_bin)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "PG", "FARGATE_PLATFORM_")) and key != "VIRTUAL_ENV"}
    env.update(PATH=path, HOME=str(home), FARGATE_PLATFORM_EMULATOR_PORT=str(port),
               AWS_CONFIG_FILE=str(home / "aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"))
    return env


def processes_mentioning(text):
    """Pids of live processes whose command line holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


class Newcomer:
    """One person with a copy of the project: runs commands as they would type them."""

    def __init__(self, project, env, user=None):
        self.project, self.env, self.user = project, env, user

    def run(self, command, timeout=300, env=None):
        argv = ["bash", "-c", command]
        if self.user:
            argv = [RUNUSER, "-u", self.user, "--"] + argv
        result = subprocess.run(argv, cwd=self.project, env=env or self.env, capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        result.output = result.stdout + result.stderr
        return result


def assert_ok(result):
    assert result.returncode == 0, result.output[-6000:]


def the_readme_path(newcomer, port):
    """up, the summary's psql line, a new shell, down: each as the README and summary say."""
    server = LocalPostgres(newcomer.project / ".local" / "postgres")
    up = newcomer.run("bash scripts/local.sh up", timeout=INSTALL_AND_LAUNCH)
    assert_ok(up)
    psql_lines = PSQL_LINE.findall(up.stdout)
    assert len(psql_lines) == 2, up.stdout[-3000:]
    for line in psql_lines:  # exactly as printed, with a query added
        service = re.search(r"dbname=(\w+)", line).group(1)
        answer = newcomer.run(f"{line} -tAc 'SELECT current_user, current_database()'")
        assert_ok(answer)
        assert answer.stdout.strip() == f"{service}|{service}"
    assert ". .venv/bin/activate" in up.stdout
    new_shell = newcomer.run(". .venv/bin/activate && sceptre status local/services/order "
                             "&& fargate-platform local status")
    assert_ok(new_shell)
    assert "CREATE_COMPLETE" in new_shell.output and "emulator:" in new_shell.output
    server_dir = server.server_dir
    down = newcomer.run("bash scripts/local.sh down")
    assert_ok(down)
    assert not processes_mentioning(str(newcomer.project))
    assert not (newcomer.project / ".local").exists()
    assert not server_dir.exists()
    assert "fargate-platform-local" not in (Path(newcomer.env["AWS_CONFIG_FILE"]).read_text()
                                            if Path(newcomer.env["AWS_CONFIG_FILE"]).exists() else "")
    assert port_free(port)


@pytest.fixture
def private_home():
    home = Path(tempfile.mkdtemp(prefix="fp-newcomer-", dir=Path.home()))  # 0700, like a home
    yield home
    for pid in processes_mentioning(str(home)):  # a failed assertion left the platform up
        subprocess.run(["kill", "-TERM", str(pid)], check=False)
    shutil.rmtree(home, ignore_errors=True)


def test_as_root_in_a_private_folder(private_home):
    assert os.geteuid() == 0, "this test is the root case: run the suite as root, as CI does"
    project = fresh_copy(private_home / "fargate-platform")
    port = harness.free_port()
    newcomer = Newcomer(project, newcomer_environment(private_home, port))

    # A failed `up` (PostgreSQL cannot start) stops what it started, and says what to do next.
    broken = newcomer.run("bash scripts/local.sh up", timeout=INSTALL_AND_LAUNCH,
                          env=dict(newcomer.env, PG_BIN_DIR=str(private_home / "no-postgres")))
    assert broken.returncode != 0
    error = broken.stderr.strip().splitlines()[-1]
    assert "PostgreSQL did not start" in error and "stopped what this run started" in error
    assert "bash scripts/local.sh up" in error
    assert not processes_mentioning(str(project)) and port_free(port)

    # A second project's `up` while this one runs names this one and the command that stops it.
    assert_ok(newcomer.run("bash scripts/local.sh up --no-launch", timeout=INSTALL_AND_LAUNCH))
    other = fresh_copy(private_home / "other-clone")
    second = newcomer.run(f".venv/bin/fargate-platform local up --project-dir {other}")
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"fargate-platform local: error: another local platform runs on this machine, from "
        f"{project}: stop it with `bash {project}/scripts/local.sh down` first (one at a time: "
        f"they share the emulator port and the AWS profile fargate-platform-local)")
    assert not (other / ".local").exists()

    the_readme_path(newcomer, port)
    assert (private_home.stat().st_mode & 0o777) == 0o700  # nothing loosened


@pytest.fixture
def ordinary_user():
    assert os.geteuid() == 0, "creating a user needs root: run the suite as root, as CI does"
    name = f"fpnew{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    os.chmod(home, 0o700)
    try:
        yield name, home
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_as_an_ordinary_user_in_their_home(ordinary_user):
    name, home = ordinary_user
    project = fresh_copy(home / "fargate-platform")
    subprocess.run(["chown", "-R", f"{name}:{name}", str(project)], check=True)
    port = harness.free_port()
    env = newcomer_environment(home, port)
    env["USER"] = env["LOGNAME"] = name
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # the user's own: no root's pyenv
    newcomer = Newcomer(project, env, user=name)
    the_readme_path(newcomer, port)
    foreign = [str(entry) for entry in home.rglob("*")
               if entry.exists() and not entry.is_symlink() and entry.owner() != name]
    assert not foreign, f"files in the user's home that are not theirs: {foreign[:10]}"
