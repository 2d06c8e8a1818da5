"""End to end: the local platform, launched by the real commands against the local emulator.

One scenario in order (each test builds on the previous ones), on a copy of the project
(local_project.py):

  admin-secret fault -> launch -> isolation -> the samples answer through the local ALB
  -> relaunch changes nothing -> the functions and the tasks' starts decided as their
  roles, nothing denied -> a permission removed from the bootstrap role fails the next
  launch naming it, restored it passes -> add a service -> delete keeps data / relaunch
  restores -> purge -> bootstrap timeout fault -> PostgreSQL stopped fault -> bad service
  config -> `sceptre delete local` keeps the data, `local up` restores it -> no secret in
  any output or log -> down

The services' data plane (rolls, failures, health, masking) is test_local_data_plane.py's.
"""
import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest

from local_project import BIN, ROOT, answer_when_healthy, assert_ok, local_project, login_error, through_the_alb

pytestmark = pytest.mark.slow

SERVICES = ("order", "inventory")


@pytest.fixture(scope="module")
def project():
    with local_project("fp-e2e-") as project:
        yield project


def test_an_admin_secret_fault_fails_the_rds_stack_then_the_launch_succeeds(project):
    assert_ok(project.local("up", "--no-launch"))
    assert_ok(project.sceptre("launch", "local/support", "-y"))
    function = "fargate-platform-local-admin-secret"
    original = project.function_config(function).get("Environment", {}).get("Variables", {})
    # The fault: the function refuses every parameter name (outside its allowed root).
    project.client("lambda").update_function_configuration(
        FunctionName=function, Environment={"Variables": dict(original, PARAMETER_ROOT="/elsewhere")})
    failed = project.sceptre("launch", "local/rds.yaml", "-y")
    assert failed.returncode != 0
    assert failed.seconds < 60
    assert "is outside /elsewhere/" in failed.output  # the function's own message
    assert project.stacks()["fargate-platform-local-rds"]["StackStatus"] == "ROLLBACK_COMPLETE"
    project.client("lambda").update_function_configuration(
        FunctionName=function, Environment={"Variables": original})
    up = project.local("up")
    assert_ok(up)
    statuses = {name: s["StackStatus"] for name, s in project.stacks().items()}
    assert all(status.endswith("_COMPLETE") and "ROLLBACK" not in status
               for status in statuses.values()), statuses
    for service in SERVICES:
        assert f"{service}.local.fargate-platform.test" in up.output
        assert f"{ROOT}/{service}/db/password" in up.output
        assert f'psql "host=127.0.0.1 port={project.postgres().port} dbname={service} ' \
               f'user={service} sslmode=verify-full' in up.output


def test_each_service_reaches_only_its_own_database(project):
    for service in SERVICES:
        user, password = project.credentials(service)
        assert user == service
        with project.connect(user, password, service) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, current_database()")
                assert cursor.fetchone() == (service, service)
        connection.close()
        other = next(s for s in SERVICES if s != service)
        error = login_error(project, user, password, other)
        assert error and "permission denied for database" in error


def test_the_psql_line_of_the_summary_works(project):
    psql = shutil.which("psql")
    if psql is None:  # the postgresql package ships it; bootstrap.sh installs that
        pytest.fail("psql is not installed")
    password = project.local("password", "order")
    assert_ok(password)
    server = project.postgres()
    result = subprocess.run(
        [psql, f"host=127.0.0.1 port={server.port} dbname=order user=order sslmode=verify-full "
               f"sslrootcert={server.ca_cert_path}", "-tAc", "SELECT current_user"],
        env={**os.environ, "PGPASSWORD": password.output.strip()}, capture_output=True,
        text=True, timeout=30)
    assert result.stdout.strip() == "order", result.stderr


def test_each_sample_answers_through_the_local_alb_with_its_own_database_and_user(project):
    for service in SERVICES:
        host = f"{service}.local.fargate-platform.test"
        status, body = answer_when_healthy(project, host)
        assert status == 200, body
        answer = json.loads(body)
        assert (answer["service"], answer["database"], answer["user"]) == (service, service, service)


def test_the_summary_curl_line_reaches_the_service(project):
    up = [run for run in project.runs if run.argv[-1:] == ["up"] and run.returncode == 0][-1]
    assert re.search(r"\d+ target\(s\) healthy after \d+ s", up.output), up  # up waited for them
    [line] = [line for line in up.output.splitlines() if "curl -H 'Host: order.local" in line]
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "order.local.fargate-platform.test"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["service"] == "order"


def test_an_unknown_host_gets_the_listeners_default_action(project):
    assert through_the_alb(project, "nobody.local.fargate-platform.test") == (404, "no such service")


def test_the_logs_command_shows_the_services_lines_masked(project):
    logs = project.run(BIN / "fargate-platform", "logs", "local", "order", "--since", "1h")
    assert_ok(logs)
    started = [line for line in logs.output.splitlines() if '"message": "started"' in line]
    assert started, logs
    assert all('"contact": "' + "*" * len("ops-oncall@example.com") + '"' in line for line in started), logs
    assert "ops-oncall@example.com" not in logs.output
    password = project.credentials("order")[1]
    assert password not in logs.output


def test_a_relaunch_changes_nothing(project):
    before_stacks = {name: s["StackId"] for name, s in project.stacks().items()}
    before_passwords = {s: project.parameter(f"{ROOT}/{s}/db/password")["Version"]
                        for s in SERVICES}
    admin = project.parameter(f"{ROOT}/rds/admin-password")["Version"]
    before_priorities = project.rule_priorities()
    assert len(set(before_priorities.values())) == len(SERVICES)
    again = project.local("up")
    assert_ok(again)
    assert again.output.count("No updates to perform") == len(before_stacks)
    assert {name: s["StackId"] for name, s in project.stacks().items()} == before_stacks
    assert {s: project.parameter(f"{ROOT}/{s}/db/password")["Version"]
            for s in SERVICES} == before_passwords
    assert project.parameter(f"{ROOT}/rds/admin-password")["Version"] == admin
    assert project.rule_priorities() == before_priorities


def test_each_function_and_each_task_start_was_decided_as_its_own_role_and_nothing_was_denied(project):
    """The emulator judged the functions' requests under their roles (iam_enforcement.py),
    and ECS's start of each service's tasks under its execution role (task_start.py):
    each role's own requests, every one allowed."""
    decisions = project.control("iam-decisions")
    executions = [actions for name, actions in decisions.items() if "ExecutionRole" in name]
    assert len(executions) == len(SERVICES), decisions
    for actions in executions:
        assert {"ssm:GetParameters", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents"} <= set(actions)
    roles = {kind: [name for name in decisions if kind in name] for kind in ("BootstrapRole", "AdminSecretRole")}
    assert all(len(found) == 1 for found in roles.values()), decisions
    bootstrap, admin_secret = decisions[roles["BootstrapRole"][0]], decisions[roles["AdminSecretRole"][0]]
    assert {"ssm:GetParameter", "ssm:PutParameter", "ssm:DescribeParameters", "kms:Encrypt",
            "kms:Decrypt"} <= set(bootstrap), bootstrap
    assert {"ssm:GetParameter", "ssm:PutParameter", "kms:Encrypt"} <= set(admin_secret), admin_secret
    denied = {(role, action): outcome for role, actions in decisions.items()
              for action, outcome in actions.items() if outcome["denied"]}
    assert not denied


def test_a_permission_removed_from_a_function_role_fails_the_next_launch_naming_it(project):
    """ssm:DescribeParameters is used only once a service's credentials exist (is the kept
    parameter under the current key?): removed from the bootstrap role of an rds stack that
    exists, the next launch of a service fails at once with AWS's AccessDenied for it, and
    passes again once the permission is back."""
    rds = project.dir / "templates" / "rds.py"
    original = rds.read_text()
    assert original.count("            common.describe_parameters_statement(),\n") == 1
    rds.write_text(original.replace("            common.describe_parameters_statement(),\n", ""))
    try:
        assert_ok(project.sceptre("launch", "-y", "local/rds.yaml"))
        failed = project.sceptre("launch", "-y", "local/services/order")
    finally:
        rds.write_text(original)
    assert failed.returncode != 0, failed
    assert "AccessDeniedException" in failed.output and "ssm:DescribeParameters" in failed.output, failed
    assert "BootstrapRole" in failed.output and "because no identity-based policy allows" in failed.output, failed
    assert failed.seconds < 60, failed
    assert_ok(project.sceptre("launch", "-y", "local/rds.yaml"))
    assert_ok(project.sceptre("launch", "-y", "local/services/order"))


def test_a_third_service_gets_its_database_and_a_distinct_priority(project):
    source = project.dir / "config" / "local" / "services" / "order"
    target = project.dir / "config" / "local" / "services" / "payment"
    shutil.copytree(source, target)
    config = (target / "config.yaml").read_text()
    (target / "config.yaml").write_text(config.replace("order", "payment"))
    others = {name: s.get("LastUpdatedTime") for name, s in project.stacks().items()}
    passwords = {s: project.parameter(f"{ROOT}/{s}/db/password")["Version"] for s in SERVICES}
    assert_ok(project.sceptre("launch", "local/services/payment", "-y"))
    user, password = project.credentials("payment")
    project.connect(user, password, "payment").close()
    priorities = project.rule_priorities()
    assert "payment.local.fargate-platform.test" in priorities
    assert len(set(priorities.values())) == len(priorities) == 3
    after = project.stacks()
    for name, updated in others.items():
        assert after[name].get("LastUpdatedTime") == updated, name
    assert {s: project.parameter(f"{ROOT}/{s}/db/password")["Version"]
            for s in SERVICES} == passwords


def test_deleting_a_service_keeps_its_data_and_disables_its_login(project):
    user, password = project.credentials("order")
    with project.connect(user, password, "order") as connection:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE orders (id int primary key)")
            cursor.execute("INSERT INTO orders VALUES (7)")
    connection.close()
    assert_ok(project.sceptre("delete", "local/services/order", "-y"))
    assert "fargate-platform-local-services-order-service" not in project.stacks()
    error = login_error(project, user, password, "order")
    assert error and "not permitted to log in" in error
    assert project.admin_query("SELECT id FROM orders", dbname="order") == [(7,)]
    assert project.credentials("order") == (user, password)
    # Relaunching it restores the login, to the same data, with the same credentials.
    assert_ok(project.sceptre("launch", "local/services/order", "-y"))
    assert project.credentials("order") == (user, password)
    with project.connect(user, password, "order") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM orders")
            assert cursor.fetchall() == [(7,)]
    connection.close()


def test_purge_removes_one_services_data_and_nothing_else(project):
    project.secrets_seen = [project.credentials("payment")[1]]
    assert_ok(project.sceptre("delete", "local/services/payment", "-y"))
    purge = project.run(BIN / "fargate-platform", "purge", "local", "payment", "--confirm",
                        "payment")
    assert_ok(purge)
    databases = {row[0] for row in project.admin_query("SELECT datname FROM pg_database")}
    roles = {row[0] for row in project.admin_query("SELECT rolname FROM pg_roles")}
    assert "payment" not in databases and "payment" not in roles
    assert {"order", "inventory"} <= databases and {"order", "inventory"} <= roles
    ssm = project.client("ssm")
    assert ssm.get_parameters(Names=[f"{ROOT}/payment/db/username",
                                     f"{ROOT}/payment/db/password"])["Parameters"] == []
    for service in SERVICES:
        project.connect(*project.credentials(service), service).close()


def test_a_bootstrap_past_its_timeout_fails_fast_and_a_rerun_succeeds(project):
    function = project.stacks()["fargate-platform-local-rds"]
    name = next(o["OutputValue"] for o in function["Outputs"]
                if o["OutputKey"] == "BootstrapFunctionName")
    timeout = project.function_config(name)["Timeout"]
    project.client("lambda").update_function_configuration(FunctionName=name, Timeout=3)
    # The fault: an admin session locks the role catalog, so the bootstrap waits on it.
    blocker = project.postgres().connect_admin("postgres")
    blocker.autocommit = False
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE pg_catalog.pg_authid IN ACCESS EXCLUSIVE MODE")
        failed = project.sceptre("launch", "local/services/inventory", "-y")
    finally:
        blocker.rollback()
        blocker.close()
    assert failed.returncode != 0
    assert failed.seconds < 60
    # The function bounds each step by the time it has left: it stops itself just before its
    # deadline (connecting, or waiting on the lock), naming the cause; Lambda's own timeout is
    # the last resort (tested with the emulator's runner).
    assert "(ensure service inventory) failed" in failed.output
    assert re.search(r"timeout expired|ran out of time|Task timed out after 3\.00 seconds", failed.output)
    project.client("lambda").update_function_configuration(FunctionName=name, Timeout=timeout)
    assert_ok(project.sceptre("launch", "local/services/inventory", "-y"))
    project.connect(*project.credentials("inventory"), "inventory").close()


def test_postgresql_stopped_during_a_bootstrap_fails_fast_and_a_rerun_succeeds(project):
    project.postgres().stop()
    failed = project.sceptre("launch", "local/services/order", "-y")
    assert failed.returncode != 0
    assert failed.seconds < 60
    assert "127.0.0.1" in failed.output and ("refused" in failed.output
                                             or "could not connect" in failed.output)
    assert_ok(project.local("up", "--no-launch"))  # starts PostgreSQL again, same port
    assert_ok(project.sceptre("launch", "local/services/order", "-y"))
    project.connect(*project.credentials("order"), "order").close()


def test_a_bad_service_config_fails_before_anything_is_made(project):
    folder = project.dir / "config" / "local" / "services" / "billing"
    shutil.copytree(project.dir / "config" / "local" / "services" / "inventory", folder)
    config = (folder / "config.yaml").read_text().replace("inventory", "billing")
    (folder / "config.yaml").write_text(config.replace("cpu: 512", "cpu: 300"))
    failed = project.sceptre("launch", "local/services/billing", "-y")
    assert failed.returncode != 0
    assert failed.seconds < 60
    assert "billing/config.yaml" in failed.output and "cpu" in failed.output
    assert "fargate-platform-local-services-billing-service" not in project.stacks()
    assert project.admin_query("SELECT 1 FROM pg_roles WHERE rolname = 'billing'") == []
    (folder / "config.yaml").write_text(config)
    assert_ok(project.sceptre("launch", "local/services/billing", "-y"))
    project.connect(*project.credentials("billing"), "billing").close()


def test_deleting_the_whole_environment_keeps_the_data_and_a_launch_restores_it(project):
    credentials = {s: project.credentials(s) for s in SERVICES}
    deleted = project.sceptre("delete", "local", "-y")
    assert_ok(deleted)
    assert not [name for name in project.stacks() if name.startswith("fargate-platform-local-")]
    for service in SERVICES:  # DeletionPolicy Snapshot/Retain: databases and logins' data kept
        assert project.admin_query(
            f"SELECT 1 FROM pg_database WHERE datname = '{service}'") == [(1,)]
    assert project.admin_query("SELECT id FROM orders", dbname="order") == [(7,)]
    assert_ok(project.local("up"))
    for service in SERVICES:
        assert project.credentials(service) == credentials[service]
        project.connect(*credentials[service], service).close()


def test_no_secret_in_any_output_or_log(project):
    secrets = list(getattr(project, "secrets_seen", []))
    secrets.append(project.parameter(f"{ROOT}/rds/admin-password")["Value"])
    for service in SERVICES + ("billing",):
        secrets.append(project.credentials(service)[1])
    # Every version of every password parameter, not only the current one.
    ssm = project.client("ssm")
    for name in [f"{ROOT}/rds/admin-password"] + [f"{ROOT}/{s}/db/password" for s in SERVICES]:
        for version in ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]:
            secrets.append(version["Value"])
    texts = {f"output of {' '.join(run.argv[:3])}": run.output for run in project.runs
             if run.argv[-2:] != ["password", "order"]}  # the one command that prints one
    texts["emulator log"] = (project.dir / ".local" / "emulator.log").read_text(errors="replace")
    logs = project.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        for stream in logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]:
            events = logs.get_log_events(logGroupName=group["logGroupName"],
                                         logStreamName=stream["logStreamName"])["events"]
            texts[f"log group {group['logGroupName']}"] = texts.get(
                f"log group {group['logGroupName']}", "") + "\n".join(e["message"] for e in events)
    assert len(secrets) >= 6 and all(len(secret) >= 16 for secret in secrets)
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a password appears in the {where}"


def test_down_stops_everything_and_removes_the_state(project):
    pid = json.loads((project.dir / ".local" / "emulator.json").read_text())["pid"]
    server = project.postgres()
    project.aws_config.write_text("[profile someone-else]\nregion = us-east-1\n")
    assert_ok(project.local("up", "--no-launch"))
    down = project.local("down")
    assert_ok(down)
    assert not (project.dir / ".local").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.is_running
    assert project.aws_config.read_text() == "[profile someone-else]\nregion = us-east-1\n"
    status = project.local("status")
    assert status.returncode == 3 and "not running" in status.output
