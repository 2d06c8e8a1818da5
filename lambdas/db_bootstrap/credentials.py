"""The bootstrap's SSM side: the admin password it reads, and each service's username and
password it keeps as SecureStrings under the data key (<root>/<service>/db/).

The parameter is the source of truth of a password: it is stored before the role gets it,
so an interrupted run finishes with the same password; a kept parameter under another key
(the rds stack retains its key on delete) is re-encrypted under the current one. Every
call is bounded by the bootstrap's deadline (`check_time`) and fails as a BootstrapError
naming the call, masked.
"""
import contextlib
import string

from fargate_platform import names
from fargate_platform.lambdas.db_bootstrap.errors import BootstrapError
from fargate_platform.lambdas.shared.aws import aws_error
from fargate_platform.lambdas.shared.secure_parameters import key_to_move_from, put_under, random_password

# Letters and digits only: services may put the password into a connection URL.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32


def generate_password(length=PASSWORD_LENGTH):
    return random_password(length, PASSWORD_ALPHABET)


class Credentials:
    def __init__(self, settings, ssm, log, check_time):
        self.settings = settings
        self.ssm = ssm
        self.log = log
        self._check_time = check_time  # check_time(what): BootstrapError when out of time
        self._admin_password = None

    def parameter_names(self, service):
        root = self.settings.parameter_root
        return {
            "username_parameter": names.db_username_parameter(root, service),
            "password_parameter": names.db_password_parameter(root, service),
        }

    def admin_password(self):
        if self._admin_password is None:
            name = self.settings.admin_password_parameter
            value = self._secure_value(name)
            if value is None:
                raise BootstrapError(f"admin password parameter {name} not found")
            self.log.register_secret(value)
            self._admin_password = value
        return self._admin_password

    def service_password(self, name):
        """(password, "present" or "stored"): the kept one, else a new one stored first."""
        existing = self._secure_value(name)
        if existing is not None:
            self.log.register_secret(existing)
            self._use_current_key(name, existing)
            return existing, "present"
        password = generate_password()
        self.log.register_secret(password)
        if self._put_secure(name, password, "Database password of the service (generated once)"):
            return password, "stored"
        existing = self._secure_value(name)  # stored concurrently a moment ago: use that one
        self.log.register_secret(existing)
        return existing, "present"

    def store_username(self, name, role):
        if not self._put_secure(name, role, "Database user name of the service"):
            existing = self._secure_value(name)
            if existing is not None:
                self._use_current_key(name, existing)

    def delete(self, service):
        """Deletes the service's parameters (purge); the names deleted."""
        parameters = list(self.parameter_names(service).values())
        with self._call("delete_parameters", parameters[0]):
            return self.ssm.delete_parameters(Names=parameters).get("DeletedParameters", [])

    def _use_current_key(self, name, value):
        with self._call("re-encrypt", name):
            previous = key_to_move_from(self.ssm, name, self.settings.data_key_id)
            if previous is None:
                return
            version = put_under(self.ssm, name, value, self.settings.data_key_id)
        self.log.info("re-encrypted with the current data key", parameter=name, version=version,
                      previous_key=previous)

    def _put_secure(self, name, value, description):
        """Store a new SecureString with the data key; False if it already exists."""
        with self._call("put_parameter", name):
            try:
                self.ssm.put_parameter(
                    Name=name, Value=value, Type="SecureString", KeyId=self.settings.data_key_id,
                    Description=description, Overwrite=False,
                )
            except self.ssm.exceptions.ParameterAlreadyExists:
                return False
        return True

    def _secure_value(self, name):
        with self._call("get_parameter", name):
            try:
                return self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            except self.ssm.exceptions.ParameterNotFound:
                return None

    @contextlib.contextmanager
    def _call(self, operation, subject):
        """Within the deadline; a failure names the call, its message masked."""
        self._check_time(f"SSM {operation} {subject}")
        try:
            yield
        except BootstrapError:
            raise
        except Exception as error:  # botocore errors: name the call, keep the message
            raise BootstrapError(self.log.mask(f"SSM {operation} {subject} failed: {aws_error(error)}")) from None
