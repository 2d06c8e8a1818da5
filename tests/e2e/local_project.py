"""The local platform as the end-to-end tests drive it: a copy of the project in a private
temporary folder, with its own emulator port, ALB ports, AWS config files and .local/ state,
so that a developer's own local platform is not touched; every command a subprocess, exactly
as a user types it (`fargate-platform local ...`, the `sceptre` CLI)."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import psycopg2

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROOT = "/fargate-platform/local"
SERVICES = ("order", "inventory")  # the local samples


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Run:
    def __init__(self, argv, returncode, output, seconds):
        self.argv, self.returncode, self.output, self.seconds = argv, returncode, output, seconds

    def __repr__(self):
        return f"{' '.join(self.argv)} -> {self.returncode} in {self.seconds:.1f} s\n{self.output[-4000:]}"


class LocalProject:
    """A copy of the project with its own emulator port, AWS files and .local/ state."""

    def __init__(self, folder):
        self.dir = Path(folder)
        shutil.copytree(REPO / "config", self.dir / "config")
        shutil.copytree(REPO / "templates", self.dir / "templates",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(REPO / "samples", self.dir / "samples", ignore=shutil.ignore_patterns("__pycache__"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.aws_config = self.dir / "aws-config"
        self.aws_credentials = self.dir / "aws-credentials"
        self.runs = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and k != "FARGATE_PLATFORM_EMULATOR_PORT"}
        self.env.update({"AWS_CONFIG_FILE": str(self.aws_config),
                         "AWS_SHARED_CREDENTIALS_FILE": str(self.aws_credentials),
                         "FARGATE_PLATFORM_EMULATOR_PORT": str(self.port),
                         "FARGATE_PLATFORM_ALB_PORT_BASE": str(_free_port())})

    def run(self, *argv, timeout=300):
        started = time.time()
        result = subprocess.run([str(a) for a in argv], cwd=self.dir, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        run = Run([str(a) for a in argv], result.returncode, result.stdout + result.stderr,
                  time.time() - started)
        self.runs.append(run)
        return run

    def local(self, *args):
        return self.run(BIN / "fargate-platform", "local", *args)

    def sceptre(self, *args):
        return self.run(BIN / "sceptre", *args)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name="eu-west-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # what the platform holds

    def parameter(self, name):
        return self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]

    def credentials(self, service):
        return (self.parameter(f"{ROOT}/{service}/db/username")["Value"],
                self.parameter(f"{ROOT}/{service}/db/password")["Value"])

    def postgres(self):
        from fargate_platform.local.postgres import LocalPostgres

        return LocalPostgres(self.dir / ".local" / "postgres")

    def connect(self, user, password, dbname):
        server = self.postgres()
        return psycopg2.connect(host="127.0.0.1", port=server.port, user=user, password=password,
                                dbname=dbname, sslmode="verify-full",
                                sslrootcert=server.ca_cert_path, connect_timeout=10)

    def admin_query(self, sql, dbname="postgres"):
        connection = self.postgres().connect_admin(dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else None
        finally:
            connection.close()

    def stacks(self):
        cfn = self.client("cloudformation")
        return {s["StackName"]: s for page in cfn.get_paginator("describe_stacks").paginate()
                for s in page["Stacks"]}

    def rule_priorities(self):
        elb = self.client("elbv2")
        priorities = {}
        for balancer in elb.describe_load_balancers()["LoadBalancers"]:
            for listener in elb.describe_listeners(
                    LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
                for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                    for condition in rule.get("Conditions", []):
                        hosts = (condition.get("HostHeaderConfig", {}).get("Values")
                                 or condition.get("Values") or [])
                        for host in hosts:
                            priorities[host] = rule["Priority"]
        return priorities

    def control(self, route):
        with urllib.request.urlopen(f"{self.url}/_fargate_platform/{route}", timeout=30) as response:
            return json.loads(response.read())

    def function_config(self, name):
        return self.client("lambda").get_function_configuration(FunctionName=name)


def assert_ok(run):
    assert run.returncode == 0, run


def login_error(project, user, password, dbname):
    try:
        project.connect(user, password, dbname).close()
    except psycopg2.OperationalError as error:
        return str(error)
    return None



@contextlib.contextmanager
def local_project(prefix):
    """A LocalProject in a new 0700 folder (PostgreSQL keeps its files elsewhere as root);
    at the end `local down`, and the emulator stopped by its recorded pid if that failed."""
    folder = tempfile.mkdtemp(prefix=prefix)
    project = LocalProject(folder)
    try:
        yield project
    finally:
        project.local("down")
        record = project.dir / ".local" / "emulator.json"
        leftover = record.exists()
        if leftover:  # `down` failed: stop the emulator by its recorded pid, never by name
            pid = json.loads(record.read_text())["pid"]
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)
        assert not leftover, "`fargate-platform local down` left the emulator's state behind"


def through_the_alb(project, host, path="/", timeout=10):
    """(status, body) of a request to the local ALB's listener for `host`."""
    [listener] = project.control("listeners")["listeners"]
    request = urllib.request.Request(f"http://127.0.0.1:{listener['local_port']}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def answer_when_healthy(project, host, bound=90):
    """The first 200 through the ALB for `host` (new tasks pass their health checks first)."""
    deadline = time.monotonic() + bound
    while True:
        status, body = through_the_alb(project, host)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(1)


def task_processes(project):
    """{task id: (pid, environment)} of the local tasks' processes of this project (found by
    their HOME, <state>/tasks/<task id>/home, as the emulator gives it)."""
    found = {}
    state = str(project.dir / ".local")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        environment = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        home = environment.get("HOME", "")
        if home.startswith(state) and "/tasks/" in home:
            found[home.split("/tasks/", 1)[1].split("/", 1)[0]] = (int(entry.name), environment)
    return found
