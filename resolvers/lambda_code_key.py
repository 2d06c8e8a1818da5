"""`!lambda_code_key {function: NAME, target: TARGET[, ca_bundle: PATH]}`: the S3 key of
a Lambda function's zip, named by the hash of what it is built from.

Computed offline (sources, pinned requirements, target, CA bundle bytes), so
`sceptre generate` works without network; the `!upload_lambda_code` hook uploads the
zip under the same key (both call fargate_platform.lambda_package.code_key).
"""
from sceptre.resolvers import Resolver

from fargate_platform import lambda_package
from fargate_platform.sceptre_errors import sceptre_errors


class LambdaCodeKey(Resolver):
    @sceptre_errors
    def resolve(self):
        spec = lambda_package.FunctionSpec.from_argument(
            self.argument, "!lambda_code_key", project_root=_project_root(self.stack)
        )
        return lambda_package.code_key(spec)


def _project_root(stack):
    """Sceptre's project folder (relative ca_bundle paths are relative to it)."""
    return (getattr(stack, "config", None) or {}).get("project_path")
