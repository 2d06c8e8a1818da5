"""Test harness for the tag tests: moto's server, a local Lambda invoke API, the sceptre CLI.

Imported as `import harness`: tests/conftest.py puts this folder on sys.path (pytest
runs with --import-mode=importlib, so test folders are not on it by themselves).

- MotoServer runs the pinned moto server from .venvs/emulator on 127.0.0.1 (moto's
  server cannot live in the project's virtualenv, see the project's notes).
- LambdaApi answers the two Lambda REST calls the hook and `purge` make
  (GetFunctionConfiguration and Invoke) on 127.0.0.1: moto's Lambda needs a Docker
  engine to invoke anything. It records every request it receives.
- run_sceptre runs the real `sceptre` CLI of this virtualenv on the test project with
  the environment pointing every AWS service at moto (and Lambda at LambdaApi).
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROJECT = Path(__file__).resolve().parent
REPO = PROJECT.parents[1]
MOTO_SERVER = REPO / ".venvs" / "emulator" / "bin" / "moto_server"
SCEPTRE = Path(sys.executable).parent / "sceptre"
FARGATE_PLATFORM = Path(sys.executable).parent / "fargate-platform"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=30):
        self.process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).read()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {self.process.returncode}")
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on {self.url} within {timeout} s")

    def reset(self):
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self, service):
        import boto3

        return boto3.client(service, endpoint_url=self.url, **CREDENTIALS)


def default_result(payload):
    """What the bootstrap function answers (the project's contract 3), never a password."""
    service, action = payload["service"], payload["action"]
    role, database, parameters = {
        "ensure": ("created", "created", "created"),
        "disable": ("disabled", "kept", "kept"),
        "purge": ("purged", "purged", "deleted"),
    }[action]
    name = service.replace("-", "_")
    return {
        "service": service,
        "action": action,
        "role": role,
        "database": database,
        "parameters": parameters,
        "role_name": name,
        "database_name": name,
        "username_parameter": f"/fp-test/test/{service}/db/username",
        "password_parameter": f"/fp-test/test/{service}/db/password",
    }


class LambdaApi:
    """Lambda's GetFunctionConfiguration and Invoke REST calls, answered locally."""

    CONFIGURATION = re.compile(r"^/2015-03-31/functions/([^/]+)/configuration/?$")
    INVOCATIONS = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")

    def __init__(self, function_timeout=60):
        self.function_timeout = function_timeout
        self.functions = None  # None: every name exists; else a set of existing names
        self.requests = []
        # respond(payload) -> (status, headers, body bytes); default: a successful run
        self.respond = self.success
        self.delay = 0.0
        # The function's State, as Lambda moves it: states[0] is the current one. A read moves
        # on to the next (the last stays), except from Inactive, which only an invoke ends
        # (Lambda refuses that invoke, as every invoke before Active).
        self.states = ["Active"]
        self.state_reason = ""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, headers, body):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _not_found(self, name):
                body = json.dumps({"Type": "User", "Message": f"Function not found: {name}"}).encode()
                self._send(404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, body)

            def do_GET(self):
                api.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers), "body": b""})
                match = api.CONFIGURATION.match(self.path.split("?")[0])
                if not match:
                    return self._send(404, {}, b"{}")
                name = urllib.request.unquote(match.group(1))
                if api.functions is not None and name not in api.functions:
                    return self._not_found(name)
                state = api.states[0]
                if state != "Inactive" and len(api.states) > 1:
                    api.states.pop(0)
                body = json.dumps({"FunctionName": name, "Timeout": api.function_timeout, "State": state,
                                   "StateReason": api.state_reason}).encode()
                self._send(200, {"Content-Type": "application/json"}, body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
                match = api.INVOCATIONS.match(self.path.split("?")[0])
                if not match:
                    return self._send(404, {}, b"{}")
                name = urllib.request.unquote(match.group(1))
                if api.functions is not None and name not in api.functions:
                    return self._not_found(name)
                if api.states[0] != "Active":
                    if api.states[0] == "Inactive" and len(api.states) > 1:
                        api.states.pop(0)
                    message = f"The operation cannot be performed at this time. The function is currently in the following state: {api.states[0]}"
                    return self._send(409, {"x-amzn-ErrorType": "ResourceConflictException"},
                                      json.dumps({"Type": "User", "message": message}).encode())
                if api.delay:
                    time.sleep(api.delay)
                try:
                    self._send(*api.respond(json.loads(body)))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def invocations(self):
        return [request for request in self.requests if request["method"] == "POST"]

    @staticmethod
    def success(payload):
        body = json.dumps(default_result(payload)).encode()
        return 200, {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}, body

    @staticmethod
    def function_error(message, error_type="RuntimeError"):
        def respond(payload):
            body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
            return 200, {"X-Amz-Function-Error": "Unhandled", "Content-Type": "application/json"}, body

        return respond

    @staticmethod
    def throttled(payload):
        body = json.dumps(
            {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}
        ).encode()
        return 429, {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/json"}, body

    @staticmethod
    def server_error(payload):
        body = json.dumps({"Type": "Service", "message": "internal"}).encode()
        return 500, {"x-amzn-ErrorType": "ServiceException", "Content-Type": "application/json"}, body


def aws_environment(moto_url, lambda_url=None, tmp_path=None):
    """Environment for a subprocess: dummy credentials, every endpoint on 127.0.0.1."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=moto_url,
        # no profile files: nothing on this machine may leak into the run
        AWS_CONFIG_FILE=str(tmp_path / "aws-config") if tmp_path else os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials") if tmp_path else os.devnull,
    )
    if lambda_url:
        env["AWS_ENDPOINT_URL_LAMBDA"] = lambda_url
    return env


def run_sceptre(args, env, timeout=180):
    return subprocess.run(
        [str(SCEPTRE), "--dir", str(PROJECT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT,
    )


def run_fargate_platform(args, env, timeout=120, stdin=None):
    return subprocess.run(
        [str(FARGATE_PLATFORM), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        cwd=PROJECT,
    )


def create_listener(elbv2, ec2):
    """A VPC with two subnets, an ALB and an HTTP listener; returns (vpc_id, listener_arn)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for index, zone in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name="fp-test", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    return vpc, listener


def add_rule(elbv2, listener, vpc, host, priority, service=None):
    """A host-header rule forwarding to a new target group (tagged as the platform's if `service`)."""
    name = f"tg-{abs(hash((host, priority))) % 10**10}"
    tags = [{"Key": "fargate-platform:service", "Value": service}] if service else []
    kwargs = {"Name": name, "Protocol": "HTTP", "Port": 80, "VpcId": vpc, "TargetType": "ip"}
    if tags:
        kwargs["Tags"] = tags
    group = elbv2.create_target_group(**kwargs)["TargetGroups"][0]["TargetGroupArn"]
    return elbv2.create_rule(
        ListenerArn=listener,
        Priority=priority,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Rules"][0]


def forget_sceptre_clients():
    """Drop the boto3 sessions and clients Sceptre caches on its class for the whole
    process, so a test's endpoints (moto's server, a stand-in API) are the ones used."""
    from sceptre.connection_manager import ConnectionManager

    with ConnectionManager._client_lock:
        ConnectionManager._clients.clear()
    with ConnectionManager._session_lock:
        ConnectionManager._boto_sessions.clear()
