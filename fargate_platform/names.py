"""Names of things, and the validation every name passes before any AWS or SQL call.

Standard library only: Lambda zips carry this module next to the function code,
so the bootstrap function and the Sceptre hooks check names with the same rules.
"""
import re

from fargate_platform.errors import PlatformError

PROJECT_CODE = "fargate-platform"  # the prefix of every stack, function, role, path and alias
# The environment the local platform runs (the emulator and PostgreSQL on this machine).
LOCAL_ENVIRONMENT = "local"
# The tag every listener rule of a service carries (its name): how !rule_priority tells the
# platform's rules from others.
SERVICE_TAG = f"{PROJECT_CODE}:service"

# Lowercase letter first, then lowercase letters, digits, hyphen or underscore.
# 32 characters keeps `<project>-<env>-services-<name>-service` stack names,
# target group names (32 max) and PostgreSQL identifiers (63 max) in bounds.
SERVICE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ENVIRONMENT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")

# Names PostgreSQL or RDS use for themselves, or that would shadow a default
# object: a service must never be given one of these as its role or database.
RESERVED_NAMES = frozenset(
    {
        "postgres",
        "template0",
        "template1",
        "rdsadmin",
        "rds_superuser",
        "rds_replication",
        "rds_password",
        "rds_iam",
        "rdstopmgr",
        "rdsrepladmin",
        "rdswriteforwarduser",
        "rds_ad",
        "public",
        "pg_signal_backend",
        "admin",
        "root",
        "platform_admin",
        "information_schema",
        "all",
        "none",
        "current_user",
        "session_user",
    }
)


class InvalidNameError(PlatformError, ValueError):
    """A name that must not reach AWS or PostgreSQL."""


def validate_service_name(name):
    """Return `name` if it is a valid service name, else raise InvalidNameError."""
    if not isinstance(name, str) or not SERVICE_NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(
            f"invalid service name {name!r}: use 1 to 32 characters, lowercase "
            "letters, digits, '-' or '_', starting with a letter"
        )
    # Checked on the PostgreSQL name too: `pg-x` becomes the reserved `pg_x`.
    database = database_name(name)
    if name in RESERVED_NAMES or database in RESERVED_NAMES or database.startswith(("pg_", "rds_")):
        raise InvalidNameError(f"invalid service name {name!r}: the name is reserved")
    return name


def validate_environment_name(name):
    if not isinstance(name, str) or not ENVIRONMENT_NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(
            f"invalid environment name {name!r}: use 1 to 16 characters, lowercase "
            "letters, digits or '-', starting with a letter"
        )
    return name


def database_name(service):
    """The PostgreSQL database and role of a service: its name with '-' as '_'.

    Underscores keep the names usable unquoted in psql; the code still quotes
    every identifier with psycopg2.sql.
    """
    return service.replace("-", "_")


def parameter_root(project_code, environment):
    """The SSM path under which an environment keeps its parameters."""
    return f"/{project_code}/{environment}"


def service_parameter_path(root, service):
    return f"{root}/{service}"


def db_username_parameter(root, service):
    return f"{root}/{service}/db/username"


def db_password_parameter(root, service):
    return f"{root}/{service}/db/password"


def admin_password_parameter(root):
    return f"{root}/rds/admin-password"


def data_key_alias(project_code, environment):
    return f"alias/{project_code}/{environment}/data"


def alb_output_prefix(alb):
    """`main` -> `Main`: the prefix of an ALB's outputs in the cluster stack (MainListenerArn)."""
    return alb.capitalize()


def log_group_root(project_code, environment):
    """The prefix of an environment's log groups, but its functions' (`/aws/lambda/...`)."""
    return f"/{project_code}/{environment}"


def service_log_group(project_code, environment, service):
    return f"{log_group_root(project_code, environment)}/services/{service}"


def flow_log_group(project_code, environment):
    return f"{log_group_root(project_code, environment)}/vpc-flow-logs"


def function_log_group(function_name):
    """Where Lambda writes a function's logs (a log group the stack creates first)."""
    return f"/aws/lambda/{function_name}"
