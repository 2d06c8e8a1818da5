"""Lambda entry point of the admin-secret custom resource (support stack).

Thin on purpose: the behaviour lives in `secret.py`, tested directly.
"""
import os

from fargate_platform.lambdas.admin_secret.secret import AdminSecret
from fargate_platform.lambdas.shared.aws import aws_client


def handler(event, context):
    resource = AdminSecret(
        ssm_client=lambda: aws_client("ssm"),
        # Optional: when set, parameter names outside this SSM path are refused.
        allowed_prefix=os.environ.get("PARAMETER_ROOT") or None,
    )
    return resource.handle(event, context)
