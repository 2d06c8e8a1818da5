"""IAM's view of moto's state: the role behind an access key moto's STS issued, credentials
assumed for a role, a role's policies as they are now (inline, attached managed policies at
their default version, permissions boundary), and KMS keys and their policies."""
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from emulator.signed_requests import Unjudgeable


def assumed_role(access_key):
    """moto STS's AssumedRole for `access_key`, or None."""
    from moto.sts.models import sts_backends

    for per_account in list(sts_backends.values()):
        for backend in list(per_account.values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return role
    return None


def assume_role_for(role_arn, session_name, region, duration=43200):
    """Credentials of `role_arn` issued by moto's STS (as Lambda gets its function's):
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else DEFAULT_ACCOUNT_ID
    backend = sts_backends[account][get_partition(region)]
    role = backend.assume_role(region_name=region, role_session_name=session_name[:64],
                               role_arn=role_arn, policy=None, duration=duration,
                               external_id=None)
    return {"AWS_ACCESS_KEY_ID": role.access_key_id,
            "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
            "AWS_SESSION_TOKEN": role.session_token}


# -- the role's policies, as they are now in moto ---------------------------------------

def _document(value):
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(unquote(text))
    return value


@dataclass
class RolePolicies:
    identity: list
    boundary: object  # a policy document, or None when the role has no boundary
    tags: dict


def role_policies(role_arn):
    """The role's inline + attached managed policies and its permissions boundary; a role
    that no longer exists has none (everything is denied, as for a deleted role)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    account, partition = parts[4], parts[1]
    backend = iam_backends[account][partition]
    role = next((r for r in list(backend.roles.values())
                 if r.arn == role_arn or r.name == role_arn.rsplit("/", 1)[-1]), None)
    if role is None:
        return RolePolicies([], None, {})
    identity = [_document(policy) for policy in list(role.policies.values())]
    identity += [_default_version(policy) for policy in list(role.managed_policies.values())]
    boundary = None
    if role.permissions_boundary_arn:
        policy = backend.managed_policies.get(role.permissions_boundary_arn)
        # A boundary that does not exist allows nothing (AWS refuses to set one).
        boundary = _default_version(policy) if policy is not None else {"Statement": []}
    tags = {tag["Key"]: tag["Value"] for tag in role.tags or [] if isinstance(tag, dict)} \
        if isinstance(role.tags, list) else {}
    return RolePolicies(identity, boundary, tags)


def _default_version(policy):
    for version in policy.versions:
        if version.is_default:
            return _document(version.document)
    return {"Statement": []}


class MotoKeys:
    """aws_requests' `keys`, from moto's KMS and SSM backends of one account and region."""

    def __init__(self, account, region):
        self.account, self.region = account, region

    def _kms(self):
        from moto.kms.models import kms_backends

        return kms_backends[self.account][self.region]

    def arn(self, key_id):
        try:
            return self._kms().describe_key(key_id).arn
        except Exception:  # noqa: BLE001 - an unknown key: judged by the ARN it names
            if key_id.startswith("arn:") and ":key/" in key_id:
                return key_id
            if re.fullmatch(r"[0-9a-fA-F-]{36}|mrk-[0-9a-f]{32}", key_id):
                return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"
            raise Unjudgeable(f"KMS key {key_id!r} does not exist") from None

    def of_parameter(self, name):
        from moto.ssm.models import ssm_backends

        try:
            found = ssm_backends[self.account][self.region].get_parameter(name)
        except Exception:  # noqa: BLE001 - absent: SSM answers ParameterNotFound itself
            return None
        if found is None or found.parameter_type != "SecureString":
            return None
        return self.arn(found.keyid or "alias/aws/ssm")

    def policy_of(self, key_arn):
        """The key's policy (None when moto does not have the key). An AWS managed key
        (alias/aws/<service>, which moto makes with its default policy) has AWS's policy
        for such keys: its service may use it for any caller of the account."""
        try:
            key = self._kms().keys.get(key_arn.rsplit("/", 1)[-1])
        except Exception:  # noqa: BLE001
            return None
        if key is None:
            return None
        managed = [alias for alias in getattr(key, "aliases", ()) if alias.startswith("alias/aws/")]
        if managed:
            return aws_managed_key_policy(managed[0].split("/")[2], self.account, self.region)
        return _document(key.policy) if key.policy else None


def aws_managed_key_policy(service, account, region):
    """The key policy AWS gives its managed key alias/aws/<service>."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": f"{service}.{region}.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
         "Resource": "*"}]}
