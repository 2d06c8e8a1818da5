"""The bootstrap function's configuration: the environment variables the rds template
sets, each checked (an error names the variable), and the CA bundle the zip carries."""
import re
from dataclasses import dataclass
from pathlib import Path

from fargate_platform.lambdas.db_bootstrap.errors import ConfigurationError
from fargate_platform.lambdas.db_bootstrap.request import shown
from fargate_platform.lambdas.shared.secure_parameters import KMS_KEY_REFERENCE, SSM_PARAMETER_PATH

SSLMODES = ("verify-full", "verify-ca")  # anything weaker is a configuration error
DEFAULT_CONNECTION_LIMIT = 20
MAX_CONNECTION_LIMIT = 1000

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_PG_USER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SSM_NAME = re.compile(SSM_PARAMETER_PATH)
_KMS_KEY = re.compile(KMS_KEY_REFERENCE)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    admin_username: str
    admin_password_parameter: str
    admin_database: str
    data_key_id: str
    parameter_root: str
    ca_bundle: str
    sslmode: str = "verify-full"
    connection_limit: int = DEFAULT_CONNECTION_LIMIT

    @classmethod
    def from_environ(cls, environ):
        """Settings from the environment variables the rds template sets; each value is
        checked, and an error names the variable."""

        def get(name, default=None):
            value = environ.get(name, default)
            if value is None or value == "":
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        def matching(name, pattern, description, default=None):
            value = get(name, default)
            if len(value) > 2048 or not pattern.fullmatch(value):
                raise ConfigurationError(f"environment variable {name}={shown(value)} is not {description}")
            return value

        def integer(name, low, high, default=None):
            value = get(name, default)
            if not re.fullmatch(r"[0-9]{1,6}", value) or not low <= int(value) <= high:
                raise ConfigurationError(
                    f"environment variable {name}={shown(value)} is not a whole number from {low} to {high}"
                )
            return int(value)

        sslmode = get("SSLMODE", "verify-full")
        if sslmode not in SSLMODES:
            raise ConfigurationError(
                f"environment variable SSLMODE={shown(sslmode)} refused: use {' or '.join(SSLMODES)}"
            )
        root = matching("PARAMETER_ROOT", _SSM_NAME, "an SSM path such as /project/env")
        admin_parameter = matching("ADMIN_PASSWORD_PARAMETER", _SSM_NAME, "an SSM parameter name")
        return cls(
            host=matching("DB_HOST", _HOST, "a host name or IPv4 address"),
            port=integer("DB_PORT", 1, 65535),
            admin_username=matching("ADMIN_USERNAME", _PG_USER, "a PostgreSQL user name"),
            admin_password_parameter=admin_parameter,
            admin_database=matching("ADMIN_DATABASE", _PG_USER, "a database name", default="postgres"),
            data_key_id=matching("DATA_KEY_ID", _KMS_KEY, "a KMS key id, alias or ARN"),
            parameter_root=root,
            ca_bundle=str(resolve_ca_bundle(get("CA_BUNDLE"))),
            sslmode=sslmode,
            connection_limit=integer("CONNECTION_LIMIT", 1, MAX_CONNECTION_LIMIT, str(DEFAULT_CONNECTION_LIMIT)),
        )


def _package_root():
    import fargate_platform

    return Path(fargate_platform.__file__).resolve().parent.parent


def resolve_ca_bundle(path):
    """The CA bundle file: absolute, or relative to the working directory or to the
    folder holding the `fargate_platform` package (the zip's root, /var/task in Lambda)."""
    given = Path(path)
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, _package_root() / given]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f"environment variable CA_BUNDLE={path!r}: no such file (looked at "
        f"{', '.join(str(c) for c in candidates)}); the function's zip must carry the CA bundle "
        "its environment names"
    )
