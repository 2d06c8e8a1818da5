"""Fixtures of the Lambda function tests.

- `response_server`: an HTTP server on 127.0.0.1 standing in for CloudFormation's
  ResponseURL; records every PUT, can fail the first ones.
- `lambda_context(seconds)`: an object with the Lambda context's interface
  (get_remaining_time_in_millis, aws_request_id).
- `cfn_event(...)`: a custom-resource event addressed to the response server.
- `rds_admin`: a non-superuser admin (CREATEDB CREATEROLE, like RDS's master user) on
  the session's PostgreSQL server.
- `bootstrap_env`: moto's SSM and KMS with the admin password stored, the Settings
  and environment variables of the bootstrap function, and an SSM client.
"""
import json
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PROJECT_ROOT_PARAMETER = "/fargate-platform/test"
SIGNATURE = "X-Amz-Signature=5ec7e75ea1d0c0ffee"  # must never be logged


class LambdaContext:
    """What AWS Lambda passes as `context`: remaining time and a request id."""

    def __init__(self, seconds=30.0):
        self._deadline = time.monotonic() + seconds
        self.started = time.monotonic()
        self.seconds = seconds
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "test-function"

    def get_remaining_time_in_millis(self):
        return int(max(0.0, self._deadline - time.monotonic()) * 1000)


@dataclass
class Answer:
    at: float  # time.monotonic() when received
    path: str
    headers: dict
    body: dict


class ResponseServer:
    """Records PUTs per path; the first `fail_first` PUTs get HTTP 500."""

    def __init__(self):
        self.answers = []  # accepted
        self.attempts = 0
        self.fail_first = 0
        self.delay = 0.0  # seconds each PUT waits before it is recorded and answered
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if recorder.delay:
                    time.sleep(recorder.delay)
                with recorder._lock:
                    recorder.attempts += 1
                    failing = recorder.attempts <= recorder.fail_first
                    if not failing:
                        recorder.answers.append(
                            Answer(time.monotonic(), self.path, dict(self.headers), json.loads(raw))
                        )
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, name="response"):
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}?{SIGNATURE}"

    def for_path(self, name="response"):
        return [answer for answer in self.answers if answer.path.split("?")[0] == f"/{name}"]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def response_server():
    server = ResponseServer()
    yield server
    server.close()


@pytest.fixture
def lambda_context():
    return LambdaContext


@pytest.fixture
def cfn_event(response_server):
    def make(request_type="Create", properties=None, physical_id=None, old_properties=None, name="response",
             logical_id="Resource"):
        event = {
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:test",
            "ResponseURL": response_server.url(name),
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/test/guid",
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": "Custom::Test",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:test",
                                   "ServiceTimeout": "120", **(properties or {})},
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        return event

    return make


def random_password(length=24):
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


@pytest.fixture(scope="session")
def rds_admin(local_postgres):
    """(username, password) of a non-superuser admin, as RDS's master user is."""
    username, password = "rds_master", random_password()
    local_postgres.set_login(username, password, superuser=False)
    return username, password


def unique_service(prefix="svc"):
    """A fresh valid service name: the PostgreSQL server is shared by the whole run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service_name():
    return unique_service


@dataclass
class BootstrapEnv:
    settings: object
    environ: dict
    ssm: object
    kms_key_id: str
    admin_password: str
    ca_bundle: str

    def stored_password(self, service):
        from fargate_platform import names

        name = names.db_password_parameter(self.settings.parameter_root, service)
        return self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]

    def parameter_names(self):
        pages = self.ssm.get_paginator("describe_parameters").paginate()
        return {parameter["Name"] for page in pages for parameter in page["Parameters"]}


@pytest.fixture
def bootstrap_env(mocked_aws, local_postgres, rds_admin, monkeypatch):
    import boto3

    from fargate_platform import names
    from fargate_platform.lambdas.db_bootstrap.settings import Settings

    username, password = rds_admin
    kms_key_id = boto3.client("kms").create_key(Description="data key")["KeyMetadata"]["Arn"]
    ssm = boto3.client("ssm")
    admin_parameter = names.admin_password_parameter(PROJECT_ROOT_PARAMETER)
    ssm.put_parameter(Name=admin_parameter, Value=password, Type="SecureString", KeyId=kms_key_id)
    environ = {
        "DB_HOST": local_postgres.host,
        "DB_PORT": str(local_postgres.port),
        "ADMIN_USERNAME": username,
        "ADMIN_PASSWORD_PARAMETER": admin_parameter,
        "ADMIN_DATABASE": "postgres",
        "DATA_KEY_ID": kms_key_id,
        "PARAMETER_ROOT": PROJECT_ROOT_PARAMETER,
        "CA_BUNDLE": local_postgres.ca_cert_path,
        "SSLMODE": "verify-full",
        "CONNECTION_LIMIT": "5",
    }
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    return BootstrapEnv(
        settings=Settings.from_environ(environ),
        environ=environ,
        ssm=ssm,
        kms_key_id=kms_key_id,
        admin_password=password,
        ca_bundle=local_postgres.ca_cert_path,
    )


@pytest.fixture
def connect_as(local_postgres):
    """connect_as(user, password, dbname): a TLS (verify-full) connection as a service opens it."""
    import psycopg2

    def connect(user, password, dbname):
        return psycopg2.connect(
            host=local_postgres.host, port=local_postgres.port, user=user, password=password, dbname=dbname,
            sslmode="verify-full", sslrootcert=local_postgres.ca_cert_path, connect_timeout=5,
        )

    return connect
