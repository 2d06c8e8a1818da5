"""The sample service (samples/service/app.py), run as the local platform runs a task: a
process with the task's environment, against the real PostgreSQL server over verify-full."""
import json
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "samples" / "service" / "app.py"


def free_port():
    from fargate_platform.local.ports import free_port as port

    return port()


@pytest.fixture
def database(local_postgres):
    """(role, password): a role owning a database of its name, as the bootstrap makes them."""
    role, password = f"sample_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    connection = local_postgres.connect_admin()
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD %s', (password,))
            cursor.execute(f'CREATE DATABASE "{role}" OWNER "{role}"')
    finally:
        connection.close()
    return role, password


@pytest.fixture
def start(local_postgres):
    processes = []

    def run(role, password):
        port = free_port()
        environment = {"PATH": "/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": str(port), "SERVICE_NAME": "order",
                       "DB_HOST": local_postgres.host, "DB_PORT": str(local_postgres.port), "DB_NAME": role,
                       "DB_USERNAME": role, "DB_PASSWORD": password, "DB_SSLMODE": "verify-full",
                       "DB_SSLROOTCERT": local_postgres.ca_cert_path}
        process = subprocess.Popen([sys.executable, str(APP)], env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        first = json.loads(process.stdout.readline())  # "started", once it listens
        return f"http://127.0.0.1:{port}", process, first

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_it_answers_from_its_own_database_as_its_own_role(database, start):
    role, password = database
    url, process, started = start(role, password)
    assert started["message"] == "started" and started["contact"] == "ops-oncall@example.com"
    status, answer = get(url + "/")
    assert status == 200 and answer.pop("instance").endswith(f"/{process.pid}")
    assert answer == {"service": "order", "version": "1", "database": role, "user": role, "visits": 1}
    assert get(url + "/health")[1]["visits"] == 2  # its table is kept between requests
    assert get(url + "/nothing-here")[0] == 404


def test_a_database_it_cannot_log_in_to_gives_503_with_the_reason_and_no_password(database, start):
    role, password = database
    url, process, _ = start(role, "not-" + password)
    status, body = get(url + "/")
    assert status == 503 and "password authentication failed" in body["error"]
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=10)[0]
    assert process.returncode == 0 and password not in output
    assert json.loads(output.strip().splitlines()[-1])["message"] == "stopped"
