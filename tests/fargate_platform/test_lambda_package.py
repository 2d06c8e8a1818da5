"""Lambda packaging: offline content-hash keys, reproducible zips, and a zip that runs
its handler under a clean Python with only the zip (and what the Lambda runtime
provides: boto3) on the path, against moto's server and the real PostgreSQL."""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest

from fargate_platform import lambda_package
from fargate_platform.lambda_package import FunctionSpec, PackagingError

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"  # the project's download cache, shared with real builds
# What the Lambda python runtime provides next to the zip (/var/runtime).
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six.py")


@pytest.fixture(scope="module")
def ca_bundle(local_postgres):
    return local_postgres.ca_cert_path


@pytest.fixture(scope="module")
def bootstrap_zip(ca_bundle):
    return lambda_package.build_zip("db_bootstrap", "local", ca_bundle=ca_bundle, cache_dir=CACHE)


# -- keys --------------------------------------------------------------------------------------


def test_key_is_computed_offline_and_stable(ca_bundle, monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError("code_key must not run pip or anything else")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    first = lambda_package.code_key("db_bootstrap", "python3.12", ca_bundle)
    assert first == lambda_package.code_key(FunctionSpec("db_bootstrap", "python3.12", Path(ca_bundle)))
    assert first.startswith("lambda/db_bootstrap/python3.12/") and first.endswith(".zip")
    assert lambda_package.code_key("admin_secret", "local").startswith(
        f"lambda/admin_secret/local-cp{sys.version_info.major}{sys.version_info.minor}-"
    )


def test_key_changes_with_every_input(ca_bundle, tmp_path):
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(Path(ca_bundle).read_bytes() + b"\n")
    keys = {
        lambda_package.code_key("db_bootstrap", "python3.12", ca_bundle),
        lambda_package.code_key("db_bootstrap", "python3.12", str(other_ca)),
        lambda_package.code_key("db_bootstrap", "python3.12"),
        lambda_package.code_key("db_bootstrap", "local", ca_bundle),
        lambda_package.code_key("admin_secret", "python3.12"),
    }
    assert len(keys) == 5


def test_key_covers_the_shared_runtime_and_names(monkeypatch):
    source = lambda_package.read_source(FunctionSpec("admin_secret", "python3.12"))
    names = [name for name, _ in source.files]
    assert names == sorted(names)
    assert {
        "fargate_platform/__init__.py", "fargate_platform/names.py", "fargate_platform/lambdas/__init__.py",
        "fargate_platform/lambdas/shared/custom_resource.py", "fargate_platform/lambdas/shared/structured_log.py", "fargate_platform/lambdas/admin_secret/handler.py",
    } <= set(names)
    assert not any("db_bootstrap" in name for name in names)
    changed = lambda_package.LambdaSource(
        spec=source.spec,
        files=tuple((name, data + b"# changed\n" if name.endswith("names.py") else data) for name, data in source.files),
        requirements=source.requirements,
    )
    assert lambda_package.code_key(changed) != lambda_package.code_key(source)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"function": "no_such_function", "target": "local"}, "unknown Lambda function 'no_such_function'"),
        ({"function": "../hooks", "target": "local"}, "unknown Lambda function"),
        ({"function": "db_bootstrap", "target": "python3.9"}, "unknown Lambda target 'python3.9'"),
        ({"function": "db_bootstrap", "target": "local", "ca_bundle": "/no/such/rds-global-bundle.pem"},
         "CA bundle for db_bootstrap not found or unreadable: /no/such/rds-global-bundle.pem"),
    ],
)
def test_clear_errors(kwargs, message):
    with pytest.raises(PackagingError) as raised:
        lambda_package.code_key(**kwargs)
    assert message in str(raised.value)


def test_a_file_that_is_not_a_pem_bundle_is_refused(tmp_path):
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("hello")
    with pytest.raises(PackagingError, match="not a PEM certificate bundle"):
        lambda_package.code_key("db_bootstrap", "local", str(not_pem))


def test_requirements_must_be_pinned(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\npsycopg2-binary==2.9.13\n\nrequests>=2\n")
    with pytest.raises(PackagingError, match=r"requirements.txt:4: 'requests>=2' is not pinned"):
        lambda_package.read_requirements(requirements)
    assert lambda_package.read_requirements(REPO / "lambdas" / "db_bootstrap" / "requirements.txt") == (
        "psycopg2-binary==2.9.13",
    )


def test_function_spec_from_a_tag_argument(tmp_path):
    spec = FunctionSpec.from_argument({"function": "db_bootstrap", "target": "local", "ca_bundle": "certs/ca.pem"},
                                      "!tag", project_root=tmp_path)
    assert spec.ca_bundle == tmp_path / "certs" / "ca.pem"
    for argument, message in [
        ("db_bootstrap", "expected a mapping"),
        ({"function": "db_bootstrap"}, "'target' is required"),
        ({"function": "db_bootstrap", "target": "local", "bucket": "b"}, "unknown key(s) bucket"),
        ({"function": "db_bootstrap", "target": "local", "ca_bundle": 5}, "'ca_bundle' must be a file path"),
    ]:
        with pytest.raises(PackagingError, match=message.replace("(", r"\(").replace(")", r"\)")):
            FunctionSpec.from_argument(argument, "!tag")


# -- zips --------------------------------------------------------------------------------------


def test_building_twice_gives_identical_bytes_and_key(bootstrap_zip, ca_bundle):
    again = lambda_package.build_zip("db_bootstrap", "local", ca_bundle=ca_bundle, cache_dir=CACHE)
    assert again.data == bootstrap_zip.data and again.key == bootstrap_zip.key
    assert bootstrap_zip.key == lambda_package.code_key("db_bootstrap", "local", ca_bundle)


def test_zip_layout(bootstrap_zip, ca_bundle, tmp_path):
    archive = zipfile.ZipFile(bootstrap_zip.write(tmp_path / "code.zip"))
    infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert not any(name.endswith(".pyc") or "__pycache__" in name for name in names)
    assert {
        "fargate_platform/__init__.py", "fargate_platform/names.py", "fargate_platform/lambdas/__init__.py",
        "fargate_platform/lambdas/shared/custom_resource.py", "fargate_platform/lambdas/shared/structured_log.py", "fargate_platform/lambdas/db_bootstrap/handler.py",
        "fargate_platform/lambdas/db_bootstrap/bootstrap.py", "psycopg2/__init__.py",
    } <= set(names)
    assert archive.read("fargate_platform/lambdas/db_bootstrap/ca-bundle.pem") == Path(ca_bundle).read_bytes()
    libraries = [info for info in infos if info.filename.endswith(".so")]
    assert libraries and all(info.external_attr >> 16 & 0o777 == 0o755 for info in libraries)
    assert bootstrap_zip.size < 6 * 1024 * 1024


def test_python312_target_pip_arguments(tmp_path):
    command = lambda_package.pip_command("python3.12", tmp_path / "req.txt", tmp_path / "out", CACHE / "pip")
    assert command[1:4] == ["-m", "pip", "install"]
    for option in (["--platform", "manylinux2014_x86_64"], ["--implementation", "cp"], ["--python-version", "3.12"],
                   ["--target", str(tmp_path / "out")], ["--cache-dir", str(CACHE / "pip")]):
        index = command.index(option[0])
        assert command[index:index + 2] == option
    assert "--only-binary=:all:" in command and "--no-compile" in command
    local = lambda_package.pip_command("local", tmp_path / "req.txt", tmp_path / "out", CACHE / "pip")
    assert "--platform" not in local and local[0] == sys.executable


def test_python312_zip_carries_lambda_platform_wheels(tmp_path):
    built = lambda_package.build_zip("db_bootstrap", "python3.12", cache_dir=CACHE)
    names = zipfile.ZipFile(built.write(tmp_path / "code.zip")).namelist()
    assert any(name.startswith("psycopg2/_psycopg.cpython-312-x86_64-linux-gnu") for name in names)
    assert not any("cpython-311" in name for name in names)
    assert built.size < 6 * 1024 * 1024


# -- the zip runs under a clean Python ---------------------------------------------------------------


def _extract(built, folder):
    """What Lambda does with the zip: unpack it into the task folder (/var/task)."""
    folder.mkdir()
    zipfile.ZipFile(built.write(folder.parent / f"{folder.name}.zip")).extractall(folder)
    return folder


def _runtime_folder(tmp_path):
    """boto3 and its dependencies, as the Lambda runtime provides them (/var/runtime)."""
    import boto3 as installed

    site_packages = Path(installed.__file__).resolve().parents[1]
    runtime = tmp_path / "runtime"
    if not runtime.exists():
        runtime.mkdir()
        for name in RUNTIME_PACKAGES:
            (runtime / name).symlink_to(site_packages / name)
    return runtime


def _clean_python(code, paths, env=None, cwd=None):
    """`python -I -S`: no site-packages, no user site, no PYTHON* variables; only `paths`."""
    program = f"import sys; sys.path[:0] = {[str(path) for path in paths]!r}\n{code}"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", program], capture_output=True, text=True, timeout=120,
        env=env or {"PATH": os.environ.get("PATH", "")}, cwd=cwd,
    )


def test_handlers_import_with_only_the_zip_on_the_path(bootstrap_zip, tmp_path):
    admin_zip = lambda_package.build_zip("admin_secret", "local", cache_dir=CACHE)
    for built, module in ((bootstrap_zip, "db_bootstrap"), (admin_zip, "admin_secret")):
        task = _extract(built, tmp_path / module)
        result = _clean_python(
            f"import fargate_platform.lambdas.{module}.handler as h, json, sys\n"
            "print(json.dumps({'handler': callable(h.handler), 'boto3': 'boto3' in sys.modules,"
            " 'paths': [m.__file__ for m in sys.modules.values() if getattr(m, '__file__', None)"
            " and 'site-packages' in m.__file__]}))",
            [task],
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report == {"handler": True, "boto3": False, "paths": []}


@pytest.fixture(scope="module")
def moto_url(moto_server):
    return moto_server.url


def _aws_env(moto_url):
    return {
        "PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_url,
    }


def _client(service, moto_url):
    return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_bootstrap_zip_runs_its_handler_in_a_clean_python(bootstrap_zip, local_postgres, moto_url, tmp_path):
    task = _extract(bootstrap_zip, tmp_path / "task")
    admin_user, admin_password = "zip_admin", uuid.uuid4().hex
    local_postgres.set_login(admin_user, admin_password, superuser=False)
    key = _client("kms", moto_url).create_key()["KeyMetadata"]["Arn"]
    ssm = _client("ssm", moto_url)
    root = f"/fargate-platform/zip-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=f"{root}/rds/admin-password", Value=admin_password, Type="SecureString", KeyId=key)
    env = {
        **_aws_env(moto_url),
        "DB_HOST": local_postgres.host, "DB_PORT": str(local_postgres.port), "ADMIN_USERNAME": admin_user,
        "ADMIN_PASSWORD_PARAMETER": f"{root}/rds/admin-password", "ADMIN_DATABASE": "postgres",
        "DATA_KEY_ID": key, "PARAMETER_ROOT": root, "SSLMODE": "verify-full", "CONNECTION_LIMIT": "3",
        # As the rds template sets it: relative to the zip's root, the working folder in Lambda.
        "CA_BUNDLE": "fargate_platform/lambdas/db_bootstrap/ca-bundle.pem",
    }
    service = f"zip-{uuid.uuid4().hex[:8]}"
    result = _clean_python(
        "import json, psycopg2\n"
        "from fargate_platform.lambdas.db_bootstrap.handler import handler\n"
        f"print(json.dumps({{'result': handler({{'service': {service!r}}}, None), 'psycopg2': psycopg2.__file__}}))",
        [task, _runtime_folder(tmp_path)], env=env, cwd=task,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["psycopg2"].startswith(str(task))  # the zip's own psycopg2
    assert (report["result"]["role"], report["result"]["database"]) == ("created", "created")
    stored = ssm.get_parameter(Name=report["result"]["password_parameter"], WithDecryption=True)
    assert stored["Parameter"]["Value"] not in result.stdout + result.stderr

    refused = _clean_python(
        "from fargate_platform.lambdas.db_bootstrap.handler import handler\n"
        "handler({'service': 'orders', 'host': 'evil'}, None)",
        [task, _runtime_folder(tmp_path)], env=env, cwd=task,
    )
    assert refused.returncode == 1 and "InvalidRequest: event field(s) 'host' refused" in refused.stderr


def test_admin_secret_zip_answers_cloudformation_in_a_clean_python(moto_url, tmp_path):
    answers = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802
            answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        built = lambda_package.build_zip("admin_secret", "local", cache_dir=CACHE)
        task = _extract(built, tmp_path / "task")
        key = _client("kms", moto_url).create_key()["KeyMetadata"]["Arn"]
        name = f"/fargate-platform/zip-{uuid.uuid4().hex[:8]}/rds/admin-password"
        event = {
            "RequestType": "Create", "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/r?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "req-1",
            "LogicalResourceId": "AdminSecret",
            "ResourceProperties": {"ServiceToken": "arn", "ParameterName": name, "KeyId": key},
        }
        result = _clean_python(
            "import json\nfrom fargate_platform.lambdas.admin_secret.handler import handler\n"
            f"handler(json.loads({json.dumps(event)!r}), None)",
            [task, _runtime_folder(tmp_path)], env=_aws_env(moto_url), cwd=task,
        )
        assert result.returncode == 0, result.stderr
    finally:
        server.shutdown()
        server.server_close()
    [answer] = answers
    assert (answer["Status"], answer["PhysicalResourceId"], answer["Data"]["Version"]) == ("SUCCESS", name, "1")
    value = _client("ssm", moto_url).get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert value not in result.stdout + result.stderr
    assert hashlib.sha256(built.data).hexdigest() == hashlib.sha256(
        lambda_package.build_zip("admin_secret", "local", cache_dir=CACHE).data
    ).hexdigest()
