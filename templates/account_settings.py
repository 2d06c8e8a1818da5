"""The account stacks' settings (their sceptre_user_data), each checked with an error naming
the stack file and key, and the names and ARNs of one environment as the account's
policies see them."""
import re
from pathlib import Path

from troposphere import Sub

from fargate_platform import names
from fargate_platform.names import PROJECT_CODE
from fargate_platform.errors import PlatformError
from fargate_platform.templates.iam import arn, iam_arn

# The account stack group's own folder name: it cannot be an environment too.
ACCOUNT_GROUP = "account"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class AccountConfigError(PlatformError, ValueError):
    """Bad sceptre_user_data for the account stack: the message names the key."""


def _flag(user_data, key, where, default=True):
    value = user_data.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise AccountConfigError(f"{where}: sceptre_user_data.{key}: expected true or false, got {value!r}")
    return value


class IdentitySettings:
    """sceptre_user_data of the account-wide stack (config/account/identity.yaml)."""

    WHERE = "config/account/identity.yaml"

    def __init__(self, user_data):
        self.create_ecs_service_linked_role = _flag(user_data, "create_ecs_service_linked_role", self.WHERE)
        self.create_oidc_provider = _flag(user_data, "create_oidc_provider", self.WHERE)


class EnvironmentSettings:
    """sceptre_user_data of one environment's stack (config/account/<env>.yaml)."""

    def __init__(self, user_data):
        env_name = user_data.get("environment")
        where = f"config/account/{env_name}.yaml" if isinstance(env_name, str) else "config/account/<env>.yaml"
        try:
            self.environment = names.validate_environment_name(env_name)
        except names.InvalidNameError as error:
            raise AccountConfigError(f"{where}: sceptre_user_data.environment: {error}") from None
        if env_name == ACCOUNT_GROUP:
            raise AccountConfigError(
                f"{where}: sceptre_user_data.environment: {ACCOUNT_GROUP!r} is the account stack group, not an environment"
            )
        # The local environment's account stack: its boundary alone (no pipeline assumes a role).
        self.boundary_only = _flag(user_data, "boundary_only", where, default=False)
        repository = user_data.get("github_repository")
        if self.boundary_only:
            repository = None
        elif not isinstance(repository, str) or not GITHUB_REPOSITORY.match(repository):
            raise AccountConfigError(
                f"{where}: sceptre_user_data.github_repository: expected OWNER/REPO as GitHub spells it, "
                f"got {repository!r} (set github_repository in config/account/config.yaml)"
            )
        self.repository = repository
        project_path = user_data.get("project_path")
        if not isinstance(project_path, str) or not project_path:
            raise AccountConfigError(f"{where}: sceptre_user_data.project_path: expected \"{{{{ project_path }}}}\"")
        self._check_prefixes(Path(project_path) / "config", env_name, where)

    @staticmethod
    def _check_prefixes(config_dir, env_name, where):
        """The deploy role of `dev` manages `fargate-platform-dev-*`: an environment `dev-eu`
        would fall inside that prefix and be reachable from dev's pipeline."""
        if not config_dir.is_dir():
            raise AccountConfigError(f"{where}: sceptre_user_data.project_path: no config/ folder in {config_dir.parent}")
        for other in sorted(path.name for path in config_dir.iterdir() if path.is_dir()):
            if other == ACCOUNT_GROUP or other == env_name:
                continue
            if other.startswith(env_name + "-") or env_name.startswith(other + "-"):
                raise AccountConfigError(
                    f"{where}: environments {env_name!r} and {other!r} share the name prefix "
                    f"{PROJECT_CODE}-{min(env_name, other, key=len)}-, so one's deploy role could change "
                    "the other's resources: rename one"
                )


class EnvironmentScope:
    """The names and ARNs of one environment as the account's policies see them."""

    def __init__(self, name):
        self.name = name
        self.prefix = f"{PROJECT_CODE}-{name}"  # stacks, functions, buckets, roles, policies
        self.parameter_root = names.parameter_root(PROJECT_CODE, name)
        self.boundary_name = f"{self.prefix}-boundary"
        self.deploy_role_name = f"{PROJECT_CODE}-{ACCOUNT_GROUP}-{name}-deploy"
        self.diff_role_name = f"{PROJECT_CODE}-{ACCOUNT_GROUP}-{name}-diff"

    @property
    def boundary_arn(self):
        return iam_arn(f"policy/{self.boundary_name}")

    def stacks(self):
        return arn("cloudformation", f"stack/{self.prefix}-*/*")

    def parameters(self):
        return [arn("ssm", f"parameter{self.parameter_root}"), arn("ssm", f"parameter{self.parameter_root}/*")]

    def buckets(self):
        return [Sub(f"arn:${{AWS::Partition}}:s3:::{self.prefix}-*"), Sub(f"arn:${{AWS::Partition}}:s3:::{self.prefix}-*/*")]

    def other_environments_keys(self):
        """Matches a KMS key with a platform alias of which none is this environment's."""
        return {
            "ForAnyValue:StringLike": {"kms:ResourceAliases": f"alias/{PROJECT_CODE}/*"},
            "ForAllValues:StringNotLike": {"kms:ResourceAliases": f"alias/{PROJECT_CODE}/{self.name}/*"},
        }
