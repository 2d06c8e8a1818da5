"""Fixtures for the local emulator's tests: a real emulator process and small Lambda zips."""
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest

from fargate_platform.local.postgres import LocalPostgres

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"
REGION = "eu-west-1"
# What the test functions may do with their role: write their logs and SSM parameters.
FUNCTION_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:PutParameter"]}]}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url, process, log_path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read() or b"{}")
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop_process(process, timeout=30):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def state_folder(prefix):
    """A private (0700) folder: the server folder of its PostgreSQL is elsewhere as root."""
    return Path(tempfile.mkdtemp(prefix=prefix))


class Emulator:
    def __init__(self, port, state_dir, process, log_path):
        self.port = port
        self.state_dir = state_dir
        self.process = process
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def control(self, route, method="GET"):
        request = urllib.request.Request(f"{self.url}/_fargate_platform/{route}", method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    # -- helpers the tests share (importlib import mode: no importing conftest) --------

    @staticmethod
    def unique(prefix):
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    @staticmethod
    def build_zip(files):
        """A Lambda zip from {path: source text}."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                archive.writestr(name, text)
        return buffer.getvalue()

    @property
    def code_bucket(self):
        if not hasattr(self, "_bucket"):
            self._bucket = self.unique("code")
            self.client("s3").create_bucket(
                Bucket=self._bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        return self._bucket

    def upload_zip(self, files):
        """Uploads a zip to the code bucket; returns its key (as the packaging hook does)."""
        key = f"{uuid.uuid4().hex}.zip"
        self.client("s3").put_object(Bucket=self.code_bucket, Key=key, Body=self.build_zip(files))
        return key

    def role_arn(self):
        if not hasattr(self, "_role"):
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}
            name = self.unique("role")
            self._role = self.client("iam").create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
            )["Role"]["Arn"]
            # The emulator judges the functions' calls under their role (iam_enforcement):
            # what the test functions do, and Lambda's writing of their logs.
            self.client("iam").put_role_policy(
                RoleName=name, PolicyName="test-functions",
                PolicyDocument=json.dumps(FUNCTION_POLICY))
        return self._role

    def stack(self, name):
        return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]

    def events(self, name):
        return self.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]

    def outputs(self, name):
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name).get("Outputs", [])}


@pytest.fixture(scope="session")
def emulator():
    """One emulator (moto + the layer + PostgreSQL) for every test module of this folder."""
    state_dir = state_folder("fp-emulator-test-")
    port = free_port()
    log_path = state_dir / "emulator.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(EMULATOR_PYTHON), "-m", "emulator", "--port", str(port),
             "--state-dir", str(state_dir)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Emulator(port, state_dir, process, log_path)
    try:
        wait_for(f"{server.url}/_fargate_platform/health", process, log_path)
        yield server
    finally:
        stop_process(process)
        # The emulator stops its PostgreSQL server on exit: check, and never leave one.
        postgres = LocalPostgres(state_dir / "postgres")
        leftover = postgres.is_running
        keep = os.environ.get("FARGATE_PLATFORM_KEEP_EMULATOR_LOG")
        if keep:  # for debugging: where to copy the emulator's log before cleaning up
            Path(keep).write_bytes(Path(log_path).read_bytes())
        postgres.remove()
        shutil.rmtree(state_dir, ignore_errors=True)
        assert not leftover, "the emulator left its PostgreSQL server running"


class SceptreProject:
    """A Sceptre project of small test stacks in a temporary folder, run by the real `sceptre`
    CLI against the emulator (its endpoint and the local profile's key in the environment)."""

    def __init__(self, folder, emulator):
        self.dir = Path(folder)
        self.emulator = emulator
        self.code = emulator.unique("t")  # project_code: stack names are <code>-test-<name>
        (self.dir / "config" / "test").mkdir(parents=True)
        (self.dir / "templates").mkdir()
        (self.dir / "config" / "config.yaml").write_text(
            f"project_code: {self.code}\nregion: {REGION}\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing",
                         "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                         "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})

    def stack(self, name, template, **settings):
        """Writes templates/<name>.yaml (text, or a dict written as JSON) and config/test/<name>.yaml
        (`settings` as Sceptre stack config); returns the stack's CloudFormation name."""
        text = template if isinstance(template, str) else json.dumps(template, indent=2)
        (self.dir / "templates" / f"{name}.yaml").write_text(text)
        config = {"template": {"path": f"{name}.yaml"}, **settings}
        (self.dir / "config" / "test" / f"{name}.yaml").write_text(json.dumps(config, indent=2))
        return f"{self.code}-test-{name}"

    def sceptre(self, *args, timeout=300):
        """(exit code, stdout + stderr) of `sceptre <args>` in the project."""
        sceptre = Path(sys.executable).parent / "sceptre"
        result = subprocess.run([str(sceptre), *map(str, args)], cwd=self.dir, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        return result.returncode, result.stdout + result.stderr


@pytest.fixture
def sceptre_project(emulator, tmp_path):
    return SceptreProject(tmp_path, emulator)
