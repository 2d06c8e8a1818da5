"""Fixtures of the `fargate-platform` command tests.

- `env`: the AWS variables of the module's `moto_server` (its stacks made by the module),
  for commands that read a stack through Sceptre's config; Sceptre's cached clients are
  forgotten before and after. test_purge.py has its own, with a Lambda API beside it.
"""
import pytest

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py


@pytest.fixture
def env(moto_server, monkeypatch, tmp_path):
    for name, value in harness.aws_environment(moto_server.url, moto_server.url, tmp_path).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    harness.forget_sceptre_clients()
    yield moto_server
    harness.forget_sceptre_clients()
