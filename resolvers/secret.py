"""`!secret`: the value of an SSM SecureString or a Secrets Manager secret.

Argument forms:

    !secret /fargate-platform/dev/rds/admin-password        # SSM SecureString (name or ARN)
    !secret {parameter: /path/name}                          # the same, as a mapping
    !secret {secret_id: NAME_OR_ARN}                         # Secrets Manager SecretString
    !secret {secret_id: NAME_OR_ARN, key: password}          # one key of a JSON SecretString

Every mapping form also takes `profile`, `region` and `sceptre_role` (as
`!stack_output_external` does); left out, the stack's own are used. AWS calls go
through the stack's connection manager (its credentials, role and throttling
retries).

Refused, with an error naming the secret and the stack but never the value:
a missing secret, access denied (IAM or KMS), an SSM parameter that is not a
SecureString (a String or StringList is not a secret store), a Secrets Manager
secret held only as SecretBinary, `key` on a secret that is not a JSON object,
a `key` the object lacks, or a key whose value is not a string or number.

Use it for NoEcho template parameters and hook arguments only, never in
`sceptre_user_data` (that is rendered into the template body).

generate / validate / diff without AWS access: `sceptre generate` and
`validate` render only the template, so a `!secret` in `parameters` is never
resolved by them and they work offline. `diff` resolves parameters with
Sceptre's placeholders enabled: a lookup that fails there becomes the
placeholder `{ !Secret(<argument>) }` (the secret's name, never a value) and the
NoEcho parameter is masked anyway; with `-n/--no-placeholders` it raises.
`launch`, `create` and `update` never use placeholders, so a missing or
unreadable secret stops the launch with this module's error. The resolver
itself makes no mode-dependent choice: it always asks AWS and raises on failure.

Never logged: this module logs no values, and while it fetches a secret it
redacts botocore's DEBUG "Response body" record in that thread (botocore logs
raw response bodies at DEBUG when a program, or a test, turns root logging up).
"""
import json
import logging
import threading

from botocore.exceptions import BotoCoreError, ClientError
from sceptre.exceptions import SceptreException
from sceptre.resolvers import Resolver

from fargate_platform.sceptre_errors import sceptre_errors

MAPPING_KEYS = {"parameter", "secret_id", "key", "profile", "region", "sceptre_role"}
NOT_FOUND_CODES = {"ParameterNotFound", "ParameterVersionNotFound", "ResourceNotFoundException"}
DENIED_CODES = {
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "InvalidKeyId",
    "DecryptionFailureException",
}


class SecretLookupError(SceptreException):
    """A secret that could not be read, or whose value is not the expected shape."""


class SecretArgumentError(ValueError):
    """An argument that does not match one of the documented forms."""


class SecretSource:
    """What to read: an SSM parameter or a Secrets Manager secret (and key)."""

    def __init__(self, parameter=None, secret_id=None, key=None, connection=None):
        self.parameter = parameter
        self.secret_id = secret_id
        self.key = key
        # profile / region / sceptre_role overrides, as passed to connection_manager.call
        self.connection = connection or {}

    def describe(self):
        """A human name for error messages: the secret's name, never its value."""
        if self.parameter is not None:
            return f"SSM parameter '{self.parameter}'"
        suffix = f" (key '{self.key}')" if self.key is not None else ""
        return f"Secrets Manager secret '{self.secret_id}'{suffix}"


def parse_argument(argument):
    """Turn the tag's argument into a SecretSource, or raise SecretArgumentError."""
    if isinstance(argument, str):
        if not argument.strip():
            raise SecretArgumentError("!secret needs an SSM parameter name; it was given an empty string")
        return SecretSource(parameter=argument.strip())
    if not isinstance(argument, dict):
        raise SecretArgumentError(
            "!secret takes an SSM parameter name or a mapping with `parameter` or "
            f"`secret_id`; it was given {type(argument).__name__}"
        )
    unknown = sorted(set(argument) - MAPPING_KEYS)
    if unknown:
        raise SecretArgumentError(
            f"!secret does not take the argument(s) {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(MAPPING_KEYS))}"
        )
    has_parameter, has_secret = "parameter" in argument, "secret_id" in argument
    if has_parameter == has_secret:
        raise SecretArgumentError("!secret takes exactly one of `parameter` and `secret_id`")
    for name in ("parameter", "secret_id", "key", "profile", "region", "sceptre_role"):
        if name in argument and (not isinstance(argument[name], str) or not argument[name].strip()):
            raise SecretArgumentError(f"!secret argument `{name}` must be a non-empty string")
    if "key" in argument and has_parameter:
        raise SecretArgumentError("!secret argument `key` only applies to `secret_id` (a JSON secret)")
    connection = {name: argument[name] for name in ("profile", "region", "sceptre_role") if name in argument}
    return SecretSource(
        parameter=argument.get("parameter"),
        secret_id=argument.get("secret_id"),
        key=argument.get("key"),
        connection=connection,
    )


# --- keep values out of botocore's DEBUG log -------------------------------------------

_fetching = threading.local()


class _RedactResponseBodies(logging.Filter):
    """Blank botocore's raw response body record while this thread reads a secret."""

    def filter(self, record):
        if getattr(_fetching, "active", False):
            record.msg = "Response body: <redacted: !secret lookup>"
            record.args = ()
        return True


def _install_redaction():
    parsers_logger = logging.getLogger("botocore.parsers")
    if not any(isinstance(f, _RedactResponseBodies) for f in parsers_logger.filters):
        parsers_logger.addFilter(_RedactResponseBodies())


_install_redaction()


class _Fetching:
    def __enter__(self):
        _fetching.active = True

    def __exit__(self, *exc):
        _fetching.active = False


# --- lookups ----------------------------------------------------------------------------


def _error_code(error):
    return error.response.get("Error", {}).get("Code", "")


def _call(call, source, service, command, kwargs, stack_name):
    """One AWS call for `source`, its failures turned into secret-free SecretLookupErrors."""
    what = source.describe()
    try:
        with _Fetching():
            return call(service, command, kwargs, **source.connection)
    except ClientError as error:
        code = _error_code(error)
        if code in NOT_FOUND_CODES:
            raise SecretLookupError(f"{stack_name} - !secret: {what} does not exist") from None
        if code in DENIED_CODES or "AccessDenied" in code:
            raise SecretLookupError(
                f"{stack_name} - !secret: access to {what} was denied ({code})"
            ) from None
        raise SecretLookupError(f"{stack_name} - !secret: could not read {what} ({code})") from None
    except BotoCoreError as error:
        # Connection and credential errors: their text names endpoints, not values.
        raise SecretLookupError(
            f"{stack_name} - !secret: could not read {what}: {type(error).__name__}: {error}"
        ) from None


def read_ssm_parameter(call, source, stack_name):
    response = _call(
        call, source, "ssm", "get_parameter", {"Name": source.parameter, "WithDecryption": True}, stack_name
    )
    parameter = response["Parameter"]
    if parameter.get("Type") != "SecureString":
        raise SecretLookupError(
            f"{stack_name} - !secret: {source.describe()} is a {parameter.get('Type')} parameter, "
            "not a SecureString; store secrets as SecureString"
        )
    return parameter["Value"]


def read_secrets_manager(call, source, stack_name):
    response = _call(
        call, source, "secretsmanager", "get_secret_value", {"SecretId": source.secret_id}, stack_name
    )
    if "SecretString" not in response:
        raise SecretLookupError(
            f"{stack_name} - !secret: {source.describe()} holds binary data, not a SecretString"
        )
    value = response["SecretString"]
    if source.key is None:
        return value
    return json_key(value, source, stack_name)


def json_key(secret_string, source, stack_name):
    """One key of a JSON-object secret. Errors never quote the secret's text."""
    try:
        document = json.loads(secret_string)
    except ValueError:
        document = None  # the decoder's exception keeps the text in `.doc`: drop it
    if not isinstance(document, dict):
        raise SecretLookupError(
            f"{stack_name} - !secret: {source.describe()} is not a JSON object, "
            f"so it has no key '{source.key}'"
        )
    if source.key not in document:
        raise SecretLookupError(f"{stack_name} - !secret: {source.describe()} has no key '{source.key}'")
    value = document[source.key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SecretLookupError(
            f"{stack_name} - !secret: key '{source.key}' of {source.describe()} is a "
            f"{type(value).__name__}, not a string or number"
        )
    return str(value)


def lookup(call, source, stack_name):
    """The secret's value. `call(service, command, kwargs, **connection)` makes the AWS call."""
    if source.parameter is not None:
        return read_ssm_parameter(call, source, stack_name)
    return read_secrets_manager(call, source, stack_name)


class Secret(Resolver):
    """Resolves to the value of an SSM SecureString or a Secrets Manager secret."""

    @sceptre_errors
    def resolve(self):
        try:
            source = parse_argument(self.argument)
        except SecretArgumentError as error:
            self.raise_invalid_argument_error(str(error))
        connection_manager = self.stack.connection_manager

        def call(service, command, kwargs, **connection):
            return connection_manager.call(service, command, kwargs, **connection)

        self.logger.debug(f"!secret: reading {source.describe()}")
        return lookup(call, source, self.stack.name)
