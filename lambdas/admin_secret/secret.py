"""The admin-secret custom resource.

Properties: ParameterName (SSM name), KeyId (KMS key id, alias or ARN), optional
RotationToken. Create puts a generated password into a SecureString encrypted with
KeyId, only if the parameter does not exist yet. Update keeps the password unless
RotationToken changed (then a new one is written: a new parameter version), and
re-encrypts it when only KeyId changed. A kept parameter whose key is not KeyId (the
rds stack's key is retained on delete, so a relaunch brings a new one) is re-encrypted
too: same password, new version. Delete keeps the parameter: the cluster, its
snapshots and whoever restores them still need it; a Delete whose properties no longer
validate answers SUCCESS and does nothing.

Data returned: ParameterName and Version (a string), for
`{{resolve:ssm-secure:NAME:VERSION}}`, so that a rotation reaches the cluster. The
value itself is never returned or logged.
"""
import string

from fargate_platform.lambdas.shared.custom_resource import (
    CustomResource,
    InvalidProperties,
    Result,
    check_properties,
    pattern_validator,
)
from fargate_platform.lambdas.shared.secure_parameters import (
    KMS_KEY_REFERENCE,
    SSM_PARAMETER_PATH,
    key_to_move_from,
    put_under,
    random_password,
)

# RDS master passwords: printable ASCII except '/', '"', '@' and space. We also leave
# out quotes, backslash, '%', '&', '#', '?' and the like, which need escaping in
# connection strings and shells.
PASSWORD_SYMBOLS = "-_.~!*+=:,^"
PASSWORD_ALPHABET = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
PASSWORD_LENGTH = 32  # Aurora PostgreSQL accepts 8 to 128 characters

validate_parameter_name = pattern_validator(
    SSM_PARAMETER_PATH, "an SSM parameter path such as /project/env/rds/admin-password", 1011
)
validate_key_id = pattern_validator(KMS_KEY_REFERENCE, "a KMS key id, alias/NAME or key ARN", 2048)
validate_rotation_token = pattern_validator(r"[A-Za-z0-9_.:@+=,-]*", "letters, digits or _.:@+=,-", 128)


def generate_password(length=PASSWORD_LENGTH):
    """A random password with at least one lowercase, uppercase, digit and symbol."""
    while True:
        password = random_password(length, PASSWORD_ALPHABET)
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(c in PASSWORD_SYMBOLS for c in password)
        ):
            return password


class AdminSecret(CustomResource):
    name = "admin-secret"

    def __init__(self, ssm_client, allowed_prefix=None):
        """ssm_client: a callable returning a boto3 SSM client (created on first use,
        so an invalid request never builds one)."""
        self._ssm_factory = ssm_client
        self._ssm = None
        self._allowed_prefix = allowed_prefix.rstrip("/") + "/" if allowed_prefix else None

    @property
    def ssm(self):
        if self._ssm is None:
            self._ssm = self._ssm_factory()
        return self._ssm

    # -- properties ---------------------------------------------------------------------

    def validate(self, properties):
        clean = check_properties(
            properties,
            required={"ParameterName": validate_parameter_name, "KeyId": validate_key_id},
            optional={"RotationToken": validate_rotation_token},
        )
        name = clean["ParameterName"]
        if name.lower().lstrip("/").startswith(("aws", "ssm")):
            raise InvalidProperties(f"invalid property ParameterName: {name} uses a prefix AWS reserves")
        if self._allowed_prefix and not name.startswith(self._allowed_prefix):
            raise InvalidProperties(
                f"invalid property ParameterName: {name} is outside {self._allowed_prefix}"
            )
        clean.setdefault("RotationToken", "")
        return clean

    # -- operations ---------------------------------------------------------------------

    def create(self, properties, request):
        return self._ensure(properties, request)

    def update(self, properties, request):
        old = request.old_properties
        if old is None:
            old = self._raw_old_values(request)
        name = properties["ParameterName"]
        if old["ParameterName"] != name:
            # A new name is a new resource; CloudFormation then deletes the old one,
            # which keeps the old parameter.
            return self._ensure(properties, request)
        if self._version(name) is None:
            return self._ensure(properties, request)  # deleted out of band: recreate
        if old["RotationToken"] != properties["RotationToken"]:
            request.log.info("rotation token changed: writing a new password", parameter=name)
            return self._put_new_password(properties, request, overwrite=True)
        if old["KeyId"] != properties["KeyId"]:
            request.log.info("key changed: re-encrypting the same password", parameter=name)
            return self._result(name, self._re_encrypt(name, properties["KeyId"], request))
        return self._ensure(properties, request)  # the parameter's key may still differ

    def delete(self, properties, request):
        request.log.info("parameter kept on delete", parameter=properties["ParameterName"])

    # -- helpers ------------------------------------------------------------------------

    def _ensure(self, properties, request):
        name = properties["ParameterName"]
        version = self._version(name)
        if version is not None:
            current = key_to_move_from(self.ssm, name, properties["KeyId"])
            if current is not None:
                # The data key was replaced (the old one is retained on stack delete):
                # the kept password moves to the configured key.
                version = self._re_encrypt(name, properties["KeyId"], request)
                request.log.info("re-encrypted with the current data key", parameter=name, version=version,
                                 previous_key=current)
                return self._result(name, version)
            request.log.info("parameter exists: password kept", parameter=name, version=version)
            return self._result(name, version)
        return self._put_new_password(properties, request, overwrite=False)

    def _re_encrypt(self, name, key_id, request):
        """The same value under key_id, as a new version; returns that version."""
        value = self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        request.log.register_secret(value)
        return put_under(self.ssm, name, value, key_id)

    def _put_new_password(self, properties, request, overwrite):
        name = properties["ParameterName"]
        password = generate_password()
        request.log.register_secret(password)
        try:
            version = self.ssm.put_parameter(
                Name=name,
                Description="Database admin password (generated; rotate with RotationToken)",
                Value=password,
                Type="SecureString",
                KeyId=properties["KeyId"],
                Overwrite=overwrite,
            )["Version"]
        except self.ssm.exceptions.ParameterAlreadyExists:
            # Another invocation created it a moment ago: keep that one.
            version = self._version(name)
            request.log.info("parameter created concurrently: kept", parameter=name)
        else:
            request.log.info("password written", parameter=name, version=version)
        return self._result(name, version)

    def _version(self, name):
        """The parameter's version, or None. Never decrypts."""
        try:
            parameter = self.ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        if parameter.get("Type") != "SecureString":
            raise ValueError(f"parameter {name} exists but is a {parameter.get('Type')}, not a SecureString")
        return parameter["Version"]

    @staticmethod
    def _raw_old_values(request):
        """The old properties as sent, when they no longer validate (the rules changed
        since): compared as they are, so an unchanged token does not rotate the password
        and a changed one does."""
        raw = request.raw_old_properties if isinstance(request.raw_old_properties, dict) else {}
        return {
            "ParameterName": raw.get("ParameterName"),
            "KeyId": raw.get("KeyId"),
            "RotationToken": raw.get("RotationToken", ""),
        }

    @staticmethod
    def _result(name, version):
        return Result(name, {"ParameterName": name, "Version": str(version)})
