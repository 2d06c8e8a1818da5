"""The SecureString helpers both functions use (lambdas/shared/secure_parameters.py)."""
import pytest

from fargate_platform.lambdas.shared.secure_parameters import same_kms_key


@pytest.mark.parametrize(
    "first, second, same",
    [
        ("arn:aws:kms:us-east-1:123456789012:key/1111-aaaa", "1111-aaaa", True),
        ("arn:aws:kms:us-east-1:123456789012:key/1111-aaaa", "arn:aws:kms:us-east-1:123456789012:key/2222", False),
        ("1111-aaaa", "2222-bbbb", False),
        ("alias/fargate-platform/dev/data", "arn:aws:kms:us-east-1:123456789012:alias/fargate-platform/dev/data",
         True),
        ("alias/fargate-platform/dev/data", "alias/fargate-platform/prod/data", False),
        # Forms that cannot be compared without asking KMS count as the same key (no rewrite)...
        ("alias/fargate-platform/dev/data", "1111-aaaa", True),
        # ...except SSM's default key, which is never a platform data key.
        ("alias/aws/ssm", "1111-aaaa", False),
        ("alias/aws/ssm", "arn:aws:kms:us-east-1:123456789012:alias/aws/ssm", True),
    ],
)
def test_same_kms_key_compares_what_it_can(first, second, same):
    assert same_kms_key(first, second) is same
    assert same_kms_key(second, first) is same
