"""Fixtures shared by the whole suite.

- `local_postgres`: one real PostgreSQL server (fargate_platform.local.postgres) for the
  whole run, in a temporary folder, stopped and removed at the end. Started on first use
  only, so test folders that do not need it pay nothing.
- `moto_server`: moto's server on a free port of 127.0.0.1 for one test module
  (tests/sceptre_project/harness.py MotoServer); tests reset its state as they need.
- `aws_credentials` / `mocked_aws`: fake credentials and moto's in-process AWS
  (`mock_aws`) for one test, with every endpoint/profile variable removed so nothing
  can reach a real account or another test's emulator.
"""
import sys
import tempfile
from pathlib import Path

import pytest

# The suite's helper modules, importable from any test folder: `import harness`
# (tests/sceptre_project/harness.py), `import golden, rendered_iam` (tests/templates),
# `import aws_call_recorder` (tests/lambdas), `import local_project` (tests/e2e),
# `import plain_moto` (tests/emulator).
for folder in ("sceptre_project", "templates", "lambdas", "e2e", "emulator"):
    sys.path.insert(0, str(Path(__file__).parent / folder))

AWS_VARIABLES_TO_CLEAR = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_S3",
)


@pytest.fixture(scope="module")
def moto_server():
    """moto's server (the pinned one, .venvs/emulator) on 127.0.0.1 for one test module."""
    import harness

    server = harness.MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_postgres():
    from fargate_platform.local.postgres import LocalPostgres

    server = LocalPostgres(tempfile.mkdtemp(prefix="fp-test-pg-"))
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def aws_credentials(monkeypatch, tmp_path):
    for name in AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # An empty config file: no profile of the machine's ~/.aws applies.
    (tmp_path / "aws-config").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-config"))


@pytest.fixture
def mocked_aws(aws_credentials):
    from moto import mock_aws

    with mock_aws():
        yield
