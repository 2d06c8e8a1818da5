"""Benchmarks of the Lambda functions; prints numbers.

    .venv/bin/python benchmarks/lambdas.py [--services 50]

- bootstrap time of one service, and of N services concurrently (threads, one
  Bootstrapper each), against a real local PostgreSQL (TLS verify-full, non-superuser
  admin like RDS's) and moto's in-process SSM/KMS;
- zip size of each function, for the AWS target (python3.12) and the local one;
- cold import time of each handler in a fresh interpreter (`python -I -S`, only the
  extracted zip on the path), median of several runs; and the same plus `import boto3`
  (which the handlers defer to their first AWS call).

Targets (issue 3): N=50 within 10 s on 2 cores, db_bootstrap zip under 6 MB, each
handler imports in under 0.3 s.
"""
import argparse
import concurrent.futures
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
FUNCTIONS = ("admin_secret", "db_bootstrap")
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six.py")


def bootstrap_benchmark(services):
    import boto3
    from moto import mock_aws

    from fargate_platform.lambdas.db_bootstrap.bootstrap import Bootstrapper
    from fargate_platform.lambdas.db_bootstrap.request import Request
    from fargate_platform.lambdas.db_bootstrap.settings import Settings
    from fargate_platform.lambdas.shared.structured_log import StructuredLog
    from fargate_platform.local.postgres import LocalPostgres

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    state = tempfile.mkdtemp(prefix="fp-bench-pg-")
    server = LocalPostgres(state)
    started = time.perf_counter()
    server.start()
    print(f"postgres start (initdb + TLS + start): {time.perf_counter() - started:.2f} s")
    try:
        admin_password = secrets.token_urlsafe(24)
        server.set_login("bench_admin", admin_password, superuser=False)
        with mock_aws():
            key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
            ssm = boto3.client("ssm")
            ssm.put_parameter(Name="/bench/env/rds/admin-password", Value=admin_password,
                              Type="SecureString", KeyId=key)
            settings = Settings(
                host=server.host, port=server.port, admin_username="bench_admin",
                admin_password_parameter="/bench/env/rds/admin-password", admin_database="postgres",
                data_key_id=key, parameter_root="/bench/env", ca_bundle=server.ca_cert_path, connection_limit=10,
            )
            quiet = open(os.devnull, "w")

            def ensure(service):
                log = StructuredLog(stream=quiet, function="db-bootstrap")
                return Bootstrapper(settings, ssm, log=log).run(Request(service))

            ensure("warm-up")  # loads moto's SSM backend once, as a warm emulator would be
            one = f"one-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            result = ensure(one)
            print(f"bootstrap one service (created): {time.perf_counter() - started:.3f} s ({result['database']})")
            started = time.perf_counter()
            ensure(one)
            print(f"bootstrap one service again (no-op): {time.perf_counter() - started:.3f} s")

            names = [f"b{i}-{uuid.uuid4().hex[:8]}" for i in range(services)]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=services) as pool:
                results = list(pool.map(ensure, names))
            elapsed = time.perf_counter() - started
            created = sum(1 for r in results if r["database"] == "created")
            print(f"bootstrap {services} services concurrently: {elapsed:.2f} s, {created}/{services} created")
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


def zip_benchmark(ca_bundle):
    from fargate_platform import lambda_package

    built = {}
    for target in ("python3.12", "local"):
        for function in FUNCTIONS:
            started = time.perf_counter()
            archive = lambda_package.build_zip(
                function, target, ca_bundle=ca_bundle if function == "db_bootstrap" else None, cache_dir=CACHE
            )
            print(f"zip {function} ({target}): {archive.size / 1e6:.2f} MB ({archive.size} bytes), "
                  f"built in {time.perf_counter() - started:.2f} s")
            built[(function, target)] = archive
    return built


def import_benchmark(built, runs=7):
    workdir = Path(tempfile.mkdtemp(prefix="fp-bench-import-"))
    try:
        import boto3

        site_packages = Path(boto3.__file__).resolve().parents[1]
        runtime = workdir / "runtime"
        runtime.mkdir()
        for name in RUNTIME_PACKAGES:
            (runtime / name).symlink_to(site_packages / name)
        for function in FUNCTIONS:
            task = workdir / function
            zipfile.ZipFile(_write(built[(function, "local")], workdir / f"{function}.zip")).extractall(task)
            for label, extra in (("handler", ""), ("handler + boto3", "import boto3\n")):
                samples = []
                for _ in range(runs):
                    code = (
                        f"import sys, time; sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]\n"
                        "t = time.perf_counter()\n"
                        f"import fargate_platform.lambdas.{function}.handler\n{extra}"
                        "print(time.perf_counter() - t)"
                    )
                    # No .pyc can be written next to the zip's files in Lambda (read-only):
                    # -B keeps every run cold here too.
                    output = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True,
                                            text=True, check=True, env={"PATH": os.environ.get("PATH", "")})
                    samples.append(float(output.stdout.strip()))
                print(f"cold import {function} {label}: median {statistics.median(samples):.3f} s "
                      f"(min {min(samples):.3f}, max {max(samples):.3f}, {runs} runs)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _write(archive, path):
    path.write_bytes(archive.data)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    bootstrap_benchmark(args.services)
    # Any PEM bundle stands in for the RDS CA bundle (about the same size).
    ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not Path(ca_bundle).exists():
        ca_bundle = None
    import_benchmark(zip_benchmark(ca_bundle))


if __name__ == "__main__":
    main()
