"""!upload_lambda_code against moto's S3, through a real Sceptre Stack's connection
manager: builds and uploads each zip under the resolver's key, only when absent."""
import logging
import datetime
from pathlib import Path

import boto3
import pytest
from sceptre.stack import Stack

from fargate_platform import lambda_package
from fargate_platform.hooks.upload_lambda_code import UploadLambdaCode
from fargate_platform.sceptre_errors import PlatformSceptreError

REPO = Path(__file__).resolve().parents[2]
BUCKET = "fargate-platform-test-artefacts"


@pytest.fixture
def bucket(mocked_aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.fixture
def ca_file(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def hook_stack(argument):
    # project_path is the repository: builds use its .cache/ like a real launch.
    return Stack(
        name="test/support/functions", project_code="fargate-platform", region="us-east-1",
        template_handler_config={"type": "file", "path": "support.py"},
        hooks={"before_launch": [UploadLambdaCode(argument)]},
        config={"project_path": str(REPO)},
    )


def run_hook(argument):
    hook_stack(argument).hooks["before_launch"][0].run()


def versions(s3):
    return s3.list_object_versions(Bucket=BUCKET).get("Versions", [])


def test_uploads_once_under_the_resolver_key(bucket, ca_file, caplog):
    caplog.set_level(logging.INFO)
    functions = [
        {"function": "admin_secret", "target": "local"},
        {"function": "db_bootstrap", "target": "local", "ca_bundle": str(ca_file)},
    ]
    run_hook({"bucket": BUCKET, "functions": functions})
    first = caplog.text
    caplog.clear()
    keys = [lambda_package.code_key(**spec) for spec in functions]
    for key in keys:
        assert f"uploaded s3://{BUCKET}/{key}" in first
        body = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body[:2] == b"PK"
    assert bucket.get_object(Bucket=BUCKET, Key=keys[1])["Body"].read() == lambda_package.build_zip(
        "db_bootstrap", "local", ca_bundle=str(ca_file), cache_dir=REPO / ".cache").data

    run_hook({"bucket": BUCKET, "functions": functions})
    second = caplog.text
    assert second.count("already uploaded, unchanged") == 2 and "uploaded s3://" not in second
    assert len(versions(bucket)) == 2  # nothing was written again


def test_a_changed_input_uploads_a_new_key(bucket, ca_file, caplog):
    caplog.set_level(logging.INFO)
    spec = {"function": "db_bootstrap", "target": "local", "ca_bundle": str(ca_file)}
    run_hook({"bucket": BUCKET, "functions": [spec]})
    ca_file.write_bytes(ca_file.read_bytes() + b"\n")
    run_hook({"bucket": BUCKET, "functions": [spec]})
    assert len({version["Key"] for version in versions(bucket)}) == 2  # two keys, one version each
    assert len(versions(bucket)) == 2 and caplog.text.count("uploaded s3://") == 2


def test_missing_ca_bundle_fails_before_uploading(bucket, tmp_path):
    with pytest.raises(PlatformSceptreError, match="CA bundle for db_bootstrap not found"):
        run_hook({"bucket": BUCKET, "functions": [
            {"function": "db_bootstrap", "target": "local", "ca_bundle": str(tmp_path / "missing.pem")}]})
    assert versions(bucket) == []


@pytest.mark.parametrize(
    "argument, message",
    [
        ({"functions": [{"function": "admin_secret", "target": "local"}]}, "'bucket' must be"),
        ({"bucket": BUCKET}, "'functions' must be a non-empty list"),
        ({"bucket": BUCKET, "functions": []}, "'functions' must be a non-empty list"),
        ({"bucket": BUCKET, "functions": ["admin_secret"]}, "functions[0]: expected a mapping"),
        ({"bucket": BUCKET, "functions": [{"function": "admin_secret", "target": "local"}], "extra": 1},
         "'bucket' and 'functions' only"),
    ],
)
def test_bad_arguments_are_clear_errors(bucket, argument, message):
    with pytest.raises(PlatformSceptreError) as raised:
        run_hook(argument)
    assert message in str(raised.value) and "test/support/functions" in str(raised.value)


def test_a_missing_bucket_is_an_error_not_a_silent_skip(mocked_aws):
    with pytest.raises(Exception, match="NoSuchBucket|Not Found|404"):
        run_hook({"bucket": "no-such-bucket", "functions": [{"function": "admin_secret", "target": "local"}]})
