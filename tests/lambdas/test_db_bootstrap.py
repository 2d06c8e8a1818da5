"""The database bootstrap against moto (SSM, KMS) and the real PostgreSQL server the
tests start (TLS verify-full against its throwaway CA, a non-superuser admin like RDS's)."""
import concurrent.futures
import dataclasses
import datetime
import json
import logging
import time
import traceback

import psycopg2
import pytest

from fargate_platform import names
from fargate_platform.lambdas.db_bootstrap import handler as bootstrap_handler
from fargate_platform.lambdas.db_bootstrap.bootstrap import Bootstrapper
from fargate_platform.lambdas.db_bootstrap.errors import BootstrapError
from fargate_platform.lambdas.db_bootstrap.request import Request
from fargate_platform.lambdas.db_bootstrap.scram import scram_sha256_verifier
from fargate_platform.lambdas.shared.structured_log import StructuredLog


def ensure(env, service, **kwargs):
    return Bootstrapper(env.settings, env.ssm, **kwargs).run(Request(service, "ensure"))


def run(env, service, action, confirm=None):
    return Bootstrapper(env.settings, env.ssm).run(Request(service, action, confirm))


def role_row(local_postgres, role):
    conn = local_postgres.connect_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s", (role,))
            return cur.fetchone()
    finally:
        conn.close()


def database_exists(local_postgres, name):
    conn = local_postgres.connect_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def admin_sql(local_postgres, *statements, dbname="postgres"):
    conn = local_postgres.connect_admin(dbname)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def role_comment(local_postgres, role):
    conn = local_postgres.connect_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (role,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def write_rows(connect_as, service, password, rows=3):
    role = names.database_name(service)
    conn = connect_as(role, password, role)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text)")
            cur.executemany("INSERT INTO orders (item) VALUES (%s)", [(f"item {i}",) for i in range(rows)])
    finally:
        conn.close()


def count_rows(local_postgres, service):
    conn = local_postgres.connect_admin(names.database_name(service))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders")
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_ensure_creates_role_database_and_credentials(bootstrap_env, service_name, connect_as, local_postgres):
    service = service_name("orders")
    result = ensure(bootstrap_env, service)
    role = names.database_name(service)
    assert result == {
        "service": service, "action": "ensure", "role": "created", "database": "created", "parameters": "stored",
        "role_name": role, "database_name": role,
        "username_parameter": f"/fargate-platform/test/{service}/db/username",
        "password_parameter": f"/fargate-platform/test/{service}/db/password",
    }
    ssm = bootstrap_env.ssm
    username = ssm.get_parameter(Name=result["username_parameter"], WithDecryption=True)["Parameter"]
    assert username["Value"] == role and username["Type"] == "SecureString"
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [result["username_parameter"], result["password_parameter"]]}]
    )["Parameters"]
    assert {(p["Type"], p["KeyId"]) for p in described} == {("SecureString", bootstrap_env.kms_key_id)}
    # The role logs in to its own database over TLS with the stored password, owns the schema.
    password = bootstrap_env.stored_password(service)
    write_rows(connect_as, service, password)
    assert role_row(local_postgres, role) == (True, 5)  # CONNECTION_LIMIT from the environment
    conn = connect_as(role, password, role)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")
            assert cur.fetchone()[0] == role
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cur.fetchone()[0] is True
    finally:
        conn.close()


def test_a_role_cannot_connect_to_another_services_database(bootstrap_env, service_name, connect_as):
    first, second = service_name("first"), service_name("second")
    ensure(bootstrap_env, first)
    ensure(bootstrap_env, second)
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect_as(names.database_name(first), bootstrap_env.stored_password(first), names.database_name(second))
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect_as(names.database_name(first), bootstrap_env.stored_password(second), names.database_name(first))


def test_ensure_again_changes_nothing(bootstrap_env, service_name, connect_as, local_postgres):
    service = service_name()
    ensure(bootstrap_env, service)
    password = bootstrap_env.stored_password(service)
    write_rows(connect_as, service, password)
    parameters = bootstrap_env.parameter_names()
    again = ensure(bootstrap_env, service)
    assert (again["role"], again["database"], again["parameters"]) == ("present", "present", "present")
    assert bootstrap_env.stored_password(service) == password
    assert bootstrap_env.parameter_names() == parameters
    versions = bootstrap_env.ssm.get_parameter(Name=again["password_parameter"])["Parameter"]["Version"]
    assert versions == 1
    assert count_rows(local_postgres, service) == 3
    connect_as(names.database_name(service), password, names.database_name(service)).close()


def test_disable_blocks_login_keeps_rows_and_ensure_restores_it(bootstrap_env, service_name, connect_as,
                                                                local_postgres):
    service = service_name()
    role = names.database_name(service)
    ensure(bootstrap_env, service)
    password = bootstrap_env.stored_password(service)
    write_rows(connect_as, service, password, rows=4)
    open_session = connect_as(role, password, role)

    result = run(bootstrap_env, service, "disable")
    assert (result["role"], result["database"], result["parameters"]) == ("disabled", "kept", "kept")
    with pytest.raises(psycopg2.OperationalError, match="not permitted to log in"):
        connect_as(role, password, role)
    with pytest.raises(psycopg2.Error):  # its open session was ended too
        with open_session.cursor() as cur:
            cur.execute("SELECT 1")
    assert count_rows(local_postgres, service) == 4
    assert bootstrap_env.stored_password(service) == password

    restored = ensure(bootstrap_env, service)
    assert (restored["role"], restored["database"]) == ("restored", "present")
    conn = connect_as(role, password, role)  # the same password
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders")
            assert cur.fetchone()[0] == 4
    finally:
        conn.close()


def test_disable_of_an_unknown_service_is_a_no_op(bootstrap_env, service_name):
    result = run(bootstrap_env, service_name("never"), "disable")
    assert (result["role"], result["database"]) == ("absent", "absent")


def test_purge_needs_the_confirmation_then_removes_everything(bootstrap_env, service_name, local_postgres):
    service = service_name()
    role = names.database_name(service)
    ensure(bootstrap_env, service)
    before = bootstrap_env.parameter_names()
    for confirm in (None, "", "other-service", service.upper()):
        with pytest.raises(ValueError, match="confirm"):
            bootstrap_handler.handler(
                {"service": service, "action": "purge", **({"confirm": confirm} if confirm is not None else {})},
                None,
            )
    assert role_row(local_postgres, role) is not None and database_exists(local_postgres, role)
    assert bootstrap_env.parameter_names() == before

    result = bootstrap_handler.handler({"service": service, "action": "purge", "confirm": service}, None)
    assert (result["role"], result["database"], result["parameters"]) == ("purged", "purged", "deleted")
    assert role_row(local_postgres, role) is None and not database_exists(local_postgres, role)
    assert not {result["username_parameter"], result["password_parameter"]} & bootstrap_env.parameter_names()
    again = run(bootstrap_env, service, "purge", service)
    assert (again["role"], again["database"], again["parameters"]) == ("absent", "absent", "absent")


def test_interrupted_run_with_role_but_no_database_completes(bootstrap_env, service_name, connect_as,
                                                             local_postgres):
    service = service_name()
    role = names.database_name(service)
    # What a run stopped after creating the role leaves behind (CREATE ROLE and its
    # ownership comment commit together), here disabled too.
    admin_sql(local_postgres, f'CREATE ROLE "{role}" NOLOGIN',
              f"COMMENT ON ROLE \"{role}\" IS 'fargate-platform service {service}'")
    result = ensure(bootstrap_env, service)
    assert (result["role"], result["database"], result["parameters"]) == ("restored", "created", "stored")
    write_rows(connect_as, service, bootstrap_env.stored_password(service))


def test_interrupted_run_with_stored_password_but_no_role_uses_it(bootstrap_env, service_name, connect_as):
    service = service_name()
    role = names.database_name(service)
    bootstrap_env.ssm.put_parameter(
        Name=names.db_password_parameter(bootstrap_env.settings.parameter_root, service),
        Value="StoredBeforeTheCrash123", Type="SecureString", KeyId=bootstrap_env.kms_key_id,
    )
    result = ensure(bootstrap_env, service)
    assert (result["role"], result["parameters"]) == ("created", "present")
    connect_as(role, "StoredBeforeTheCrash123", role).close()


def test_twenty_concurrent_bootstraps_all_succeed(bootstrap_env, service_name, connect_as):
    services = [service_name(f"c{i}") for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda service: ensure(bootstrap_env, service), services))
    assert [result["database"] for result in results] == ["created"] * 20
    for service in services:
        role = names.database_name(service)
        connect_as(role, bootstrap_env.stored_password(service), role).close()


def test_concurrent_bootstraps_of_one_service_agree_on_one_password(bootstrap_env, service_name, connect_as):
    service = service_name()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ensure(bootstrap_env, service), range(4)))
    assert sorted(result["database"] for result in results).count("created") <= 1
    role = names.database_name(service)
    connect_as(role, bootstrap_env.stored_password(service), role).close()


def test_verify_full_fails_against_a_wrong_ca(bootstrap_env, service_name, tmp_path, local_postgres):
    wrong_ca = tmp_path / "wrong-ca.pem"
    wrong_ca.write_bytes(_self_signed_ca_pem())
    settings = dataclasses.replace(bootstrap_env.settings, ca_bundle=str(wrong_ca))
    service = service_name()
    with pytest.raises(BootstrapError, match="certificate verify failed") as raised:
        Bootstrapper(settings, bootstrap_env.ssm).run(Request(service))
    assert "verify-full" in str(raised.value) and str(wrong_ca) in str(raised.value)
    assert bootstrap_env.admin_password not in str(raised.value)
    assert role_row(local_postgres, names.database_name(service)) is None


def test_a_role_with_admin_attributes_is_not_touched(bootstrap_env, service_name, local_postgres):
    service = service_name()
    admin = local_postgres.connect_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{names.database_name(service)}" LOGIN CREATEROLE')
    finally:
        admin.close()
    with pytest.raises(BootstrapError, match="administrative attributes"):
        ensure(bootstrap_env, service)


def test_passwords_never_appear_in_logs_results_or_errors(bootstrap_env, service_name, capsys, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    service = service_name()
    seen = []
    seen.append(bootstrap_handler.handler({"service": service}, None))
    seen.append(bootstrap_handler.handler({"service": service, "action": "ensure"}, None))
    seen.append(bootstrap_handler.handler({"service": service, "action": "disable"}, None))
    seen.append(bootstrap_handler.handler({"service": service}, None))
    errors = []
    wrong_ca = tmp_path / "wrong-ca.pem"
    wrong_ca.write_bytes(_self_signed_ca_pem())
    for environ in ({"CA_BUNDLE": str(wrong_ca)}, {"ADMIN_USERNAME": "nobody_here"}):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in environ.items():
                patch.setenv(key, value)
            with pytest.raises(Exception) as raised:
                bootstrap_handler.handler({"service": service}, None)
            errors.append(raised.value)
    captured = capsys.readouterr()
    text = "\n".join(
        [captured.out, captured.err, caplog.text, json.dumps(seen)]
        + [f"{error!s} {error!r} {''.join(traceback.format_exception(error))}" for error in errors]
    )
    assert "password authentication failed" in text  # the failures did happen
    assert json.loads(captured.out.splitlines()[-1])["level"] == "ERROR"
    for secret in (bootstrap_env.stored_password(service), bootstrap_env.admin_password):
        assert secret not in text


def test_handler_reads_its_configuration_from_the_environment(bootstrap_env, service_name, monkeypatch):
    service = service_name()
    monkeypatch.setenv("PARAMETER_ROOT", "/fargate-platform/elsewhere")
    result = bootstrap_handler.handler({"service": service, "action": "ensure"}, None)
    assert result["password_parameter"] == f"/fargate-platform/elsewhere/{service}/db/password"
    monkeypatch.setenv("SSLMODE", "require")
    with pytest.raises(ValueError, match="SSLMODE"):
        bootstrap_handler.handler({"service": service}, None)


def test_scram_verifier_is_accepted_by_postgresql(local_postgres, connect_as, service_name):
    role = names.database_name(service_name("scram"))
    verifier = scram_sha256_verifier("Plain-Text-Never-Sent-1")
    admin = local_postgres.connect_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{verifier}'")
            cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
            assert cur.fetchone()[0] == verifier  # stored as sent: the plain text never reached the server
    finally:
        admin.close()
    connect_as(role, "Plain-Text-Never-Sent-1", "postgres").close()
    with pytest.raises(psycopg2.OperationalError):
        connect_as(role, "Plain-Text-Never-Sent-2", "postgres")


def test_structured_log_of_a_run_names_the_service(bootstrap_env, service_name, capsys):
    service = service_name()
    ensure(bootstrap_env, service, log=StructuredLog(function="db-bootstrap", service=service))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["message"] == "service database ensured" and line["service"] == service for line in lines)


def _self_signed_ca_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some other CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


# -- ownership: a role or database is the service's only if the platform made it for it --------


def test_ensure_marks_the_role_it_creates(bootstrap_env, service_name, local_postgres):
    service = service_name()
    ensure(bootstrap_env, service)
    assert role_comment(local_postgres, names.database_name(service)) == f"fargate-platform service {service}"


def test_services_sharing_a_role_name_cannot_take_each_others_role(bootstrap_env, service_name, connect_as):
    first = service_name("order-api")
    second = first.replace("-", "_")  # a valid, different service with the same role name
    ensure(bootstrap_env, first)
    password = bootstrap_env.stored_password(first)
    before = bootstrap_env.parameter_names()
    with pytest.raises(BootstrapError) as raised:
        ensure(bootstrap_env, second)
    message = str(raised.value)
    assert repr(second) in message and repr(names.database_name(second)) in message and first in message
    assert bootstrap_env.parameter_names() == before  # nothing stored for the second service
    role = names.database_name(first)
    connect_as(role, password, role).close()  # the first service's password is untouched
    for action in ("disable", "purge"):
        with pytest.raises(BootstrapError, match="not the role of service"):
            run(bootstrap_env, second, action, second if action == "purge" else None)
    connect_as(role, password, role).close()  # still enabled, still there


@pytest.mark.parametrize("comment", [None, "reporting for finance", "fargate-platform service someone-else"])
def test_an_existing_role_not_made_for_the_service_is_refused_before_anything_changes(
        bootstrap_env, service_name, local_postgres, comment):
    service = service_name("reporting")
    role = names.database_name(service)
    statements = [f'CREATE ROLE "{role}" NOLOGIN CONNECTION LIMIT 2']
    if comment is not None:
        statements.append(f"COMMENT ON ROLE \"{role}\" IS '{comment}'")
    admin_sql(local_postgres, *statements)
    before = bootstrap_env.parameter_names()
    with pytest.raises(BootstrapError, match="refusing") as raised:
        ensure(bootstrap_env, service)
    assert repr(service) in str(raised.value) and repr(role) in str(raised.value)
    assert bootstrap_env.parameter_names() == before  # no SSM write
    assert role_row(local_postgres, role) == (False, 2)  # no ALTER
    assert not database_exists(local_postgres, role)
    for action in ("disable", "purge"):
        with pytest.raises(BootstrapError, match="refusing"):
            run(bootstrap_env, service, action, service if action == "purge" else None)
    assert role_row(local_postgres, role) == (False, 2)


def test_an_existing_database_not_owned_by_the_service_role_is_refused(bootstrap_env, service_name,
                                                                       local_postgres):
    service = service_name("legacy")
    role = names.database_name(service)
    admin_sql(local_postgres, f'CREATE DATABASE "{role}"')  # owned by someone else
    before = bootstrap_env.parameter_names()
    with pytest.raises(BootstrapError, match="database") as raised:
        ensure(bootstrap_env, service)
    assert repr(service) in str(raised.value) and "refusing" in str(raised.value)
    assert bootstrap_env.parameter_names() == before
    assert role_row(local_postgres, role) is None
    with pytest.raises(BootstrapError, match="refusing"):
        run(bootstrap_env, service, "purge", service)
    assert database_exists(local_postgres, role)


def test_ensure_re_encrypts_existing_credentials_with_the_current_data_key(bootstrap_env, service_name, connect_as,
                                                                           capsys):
    import boto3

    service = service_name()
    ensure(bootstrap_env, service)
    password = bootstrap_env.stored_password(service)
    # delete and launch again: the retained old key stays, the stack has a new one
    new_key = boto3.client("kms").create_key(Description="new data key")["KeyMetadata"]["KeyId"]
    settings = dataclasses.replace(bootstrap_env.settings, data_key_id=new_key)
    capsys.readouterr()
    result = Bootstrapper(settings, bootstrap_env.ssm).run(Request(service))
    assert result["parameters"] == "present"
    ssm = bootstrap_env.ssm
    names_ = [result["username_parameter"], result["password_parameter"]]
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": names_}])["Parameters"]
    assert {(p["Name"], p["KeyId"].split("/")[-1], p["Version"]) for p in described} == {
        (name, new_key, 2) for name in names_
    }
    assert bootstrap_env.stored_password(service) == password  # the same password, a new version
    out = capsys.readouterr().out
    assert out.count("re-encrypted with the current data key") == 2 and password not in out
    role = names.database_name(service)
    connect_as(role, password, role).close()
    Bootstrapper(settings, ssm).run(Request(service))  # now under the current key: no new version
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": names_}])["Parameters"]
    assert {p["Version"] for p in described} == {2}


def test_a_lock_held_near_the_deadline_ends_with_ran_out_of_time(bootstrap_env, service_name, local_postgres):
    service = service_name()
    role = names.database_name(service)
    ensure(bootstrap_env, service)
    # Another session changes the public schema and keeps its transaction open: ensure's
    # schema step waits on that row lock.
    blocker = local_postgres.connect_admin(role)
    try:
        blocker.autocommit = False
        with blocker.cursor() as cur:
            cur.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        started = time.monotonic()
        with pytest.raises(BootstrapError, match="ran out of time") as raised:
            ensure(bootstrap_env, service, deadline=started + 3.0)
        elapsed = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    # Each attempt's waits are bounded by the time left (the lock timeout alone was 10 s);
    # the handler's deadline is 5 s before Lambda's, so a little past it is still ours.
    assert elapsed < 3.5, elapsed
    assert repr(service) in str(raised.value) and "public schema" in str(raised.value)


def test_no_attempt_starts_without_time_left(bootstrap_env, service_name, local_postgres):
    service = service_name()
    with pytest.raises(BootstrapError, match="ran out of time"):
        ensure(bootstrap_env, service, deadline=time.monotonic() + 0.2)
    assert role_row(local_postgres, names.database_name(service)) is None
