"""`!upload_lambda_code {bucket: BUCKET, functions: [{function, target[, ca_bundle]}, ...]}`

Before the stack that uses them, builds each function's zip and uploads it to the
artefacts bucket under its content-hash key (fargate_platform.lambda_package.code_key,
the key `!lambda_code_key` gives the templates), only when the bucket does not have
it yet. Prints what it did for each function.
"""
from botocore.exceptions import ClientError
from sceptre.hooks import Hook

from fargate_platform import lambda_package
from fargate_platform.sceptre_errors import sceptre_errors


class UploadLambdaCode(Hook):
    @sceptre_errors
    def run(self):
        bucket, specs = self._arguments()
        uploader = CodeUploader(
            call=lambda command, kwargs: self.stack.connection_manager.call("s3", command, kwargs),
            bucket=bucket,
            builder=lambda_package.ZipBuilder(project_root=self._project_root()),
            report=self.logger.info,
        )
        for spec in specs:
            uploader.upload(spec)

    def _project_root(self):
        return (getattr(self.stack, "config", None) or {}).get("project_path")

    def _arguments(self):
        where = "!upload_lambda_code"  # the stack name leads the message (sceptre_errors)
        argument = self.argument
        if not isinstance(argument, dict) or set(argument) - {"bucket", "functions"}:
            raise lambda_package.PackagingError(f"{where}: expected a mapping with 'bucket' and 'functions' only")
        bucket = argument.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise lambda_package.PackagingError(f"{where}: 'bucket' must be the artefacts bucket's name, got {bucket!r}")
        functions = argument.get("functions")
        if not isinstance(functions, list) or not functions:
            raise lambda_package.PackagingError(f"{where}: 'functions' must be a non-empty list")
        specs = [
            lambda_package.FunctionSpec.from_argument(item, f"{where}, functions[{index}]", self._project_root())
            for index, item in enumerate(functions)
        ]
        return bucket, specs


class CodeUploader:
    """Uploads zips to one bucket through `call(command, kwargs)` (an S3 API call)."""

    def __init__(self, call, bucket, builder, report):
        self._call = call
        self._bucket = bucket
        self._builder = builder
        self._report = report  # the hook's logger.info

    def upload(self, spec):
        """Upload spec's zip unless its key is there; returns (key, uploaded?)."""
        key = lambda_package.code_key(spec)
        location = f"s3://{self._bucket}/{key}"
        if self._exists(key):
            self._report(f"lambda code {spec.function} ({spec.target}): {location} already uploaded, unchanged")
            return key, False
        built = self._builder.build(spec)
        if built.key != key:  # a source changed between hashing and building: do not mislabel it
            raise lambda_package.PackagingError(f"{spec.function}: sources changed while packaging; run again")
        self._call(
            "put_object",
            {"Bucket": self._bucket, "Key": key, "Body": built.data, "ContentType": "application/zip"},
        )
        self._report(f"lambda code {spec.function} ({spec.target}): uploaded {location} ({built.size} bytes)")
        return key, True

    def _exists(self, key):
        try:
            self._call("head_object", {"Bucket": self._bucket, "Key": key})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
