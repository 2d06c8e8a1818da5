"""Patch 3: AWS::RDS::DBCluster backed by the real local PostgreSQL server.

moto behaviour replaced:
- moto's CloudFormation has no model for `AWS::RDS::DBCluster`: the resource is
  skipped with a warning, so Ref/GetAtt on it fail or vanish.
- moto's `AWS::RDS::DBInstance` model ignores DBClusterIdentifier and creates a
  standalone instance (engine defaults, port 3306) in moto's RDS backend.
- moto's CloudFormation has no code for dynamic references: the text
  `{{resolve:ssm-secure:NAME:VERSION}}` passes through unresolved.

What runs instead (registered in moto's CloudFormation model map):
- LocalAuroraCluster (`AWS::RDS::DBCluster`, Engine aurora-postgresql only):
  makes sure the local PostgreSQL server runs (context.LocalDatabase: one
  server for the emulator, state in <state-dir>/postgres, TLS with its own
  throwaway CA) and applies MasterUsername / MasterUserPassword to it as a login
  role with RDS's master-user rights (CREATEDB CREATEROLE, not SUPERUSER). The
  password may be, or contain, `{{resolve:ssm-secure:NAME[:VERSION]}}` or
  `{{resolve:ssm:NAME[:VERSION]}}`, resolved from moto's SSM (a missing parameter
  or version fails the resource). An update applies the (possibly new) master
  password again. GetAtt: Endpoint.Address / ReadEndpoint.Address (127.0.0.1),
  Endpoint.Port (the server's port, a string as in AWS), DBClusterArn,
  DBClusterResourceId; Ref: the cluster identifier. DatabaseName, when given, is
  created if missing. Delete removes nothing from the server: the data survives
  whatever the DeletionPolicy (Snapshot and Retain are thus respected; a local
  `Delete` policy keeps the data too, so the local platform never loses it).
  Limitation: moto decides what an update modifies by comparing template text,
  so a new admin-secret Version (a rotation through RotationToken) reaches the
  cluster only when the cluster's own template text changes too.
- ClusterAwareDBInstance (`AWS::RDS::DBInstance`): an instance with
  DBClusterIdentifier is a no-op member of its cluster (GetAtt Endpoint.* give
  the cluster's); any other instance is left to moto's own model.
"""
import hashlib
import re

from moto.core.common_models import CloudFormationModel

from emulator import context

DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]*)\}\}")
SUPPORTED_ENGINES = ("aurora-postgresql",)


class DynamicReferenceError(ValueError):
    pass


def resolve_dynamic_references(text, account_id, region_name):
    """Replace `{{resolve:ssm[-secure]:NAME[:VERSION]}}` in `text` with the parameter's value."""
    if not isinstance(text, str):
        return text
    from moto.ssm.models import ssm_backends

    backend = ssm_backends[account_id][region_name]

    def value_of(match):
        service, reference = match.group(1), match.group(2)
        if service == "secretsmanager":
            raise DynamicReferenceError(
                "{{resolve:secretsmanager:...}} is not supported by the local emulator")
        name, _, version = reference.partition(":")
        try:
            parameter = backend.get_parameter(f"{name}:{version}" if version else name)
        except Exception:  # noqa: BLE001 - moto raises ParameterVersionNotFound and others
            parameter = None
        if parameter is None:
            shown = f"{name} version {version}" if version else name
            raise DynamicReferenceError(f"SSM parameter {shown} referenced by "
                                        f"{{{{resolve:{service}:...}}}} was not found")
        if service == "ssm-secure" and parameter.parameter_type != "SecureString":
            raise DynamicReferenceError(f"SSM parameter {name} is not a SecureString")
        return parameter.decrypt(parameter.value) if service == "ssm-secure" else parameter.value

    return DYNAMIC_REFERENCE.sub(value_of, text)


class LocalAuroraCluster(CloudFormationModel):
    def __init__(self, identifier, account_id, region_name, properties):
        self.identifier = identifier
        self.account_id = account_id
        self.region_name = region_name
        self.properties = properties
        digest = hashlib.sha1(f"{account_id}/{region_name}/{identifier}".encode()).hexdigest()
        self.resource_id = "cluster-" + digest.upper()[:26]

    @staticmethod
    def cloudformation_name_type():
        return "DBClusterIdentifier"

    @staticmethod
    def cloudformation_type():
        return "AWS::RDS::DBCluster"

    @property
    def physical_resource_id(self):
        return self.identifier

    @property
    def arn(self):
        return f"arn:aws:rds:{self.region_name}:{self.account_id}:cluster:{self.identifier}"

    def is_created(self):
        return True

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address",
                        "DBClusterArn", "DBClusterResourceId")

    def get_cfn_attribute(self, attribute_name):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        database = context.current().database.ensure_running()
        values = {
            "Endpoint.Address": database.host,
            "ReadEndpoint.Address": database.host,
            "Endpoint.Port": str(database.port),
            "DBClusterArn": self.arn,
            "DBClusterResourceId": self.resource_id,
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        cluster = cls(resource_name.lower(), account_id, region_name, properties)
        cluster.apply(properties)
        return cluster

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        properties = cloudformation_json.get("Properties", {})
        original_resource.apply(properties)
        original_resource.properties = properties
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name):
        """Nothing to do: the server's data is kept (see the module docstring)."""

    def delete(self, account_id, region_name):
        """Nothing to do: the server's data is kept (see the module docstring)."""

    def apply(self, properties):
        """Start the server if needed and set the master user's login on it."""
        engine = properties.get("Engine")
        if engine not in SUPPORTED_ENGINES:
            raise ValueError(f"the local emulator backs only Engine {SUPPORTED_ENGINES[0]} "
                             f"clusters, not {engine!r}")
        username = properties.get("MasterUsername")
        password = properties.get("MasterUserPassword")
        if not username or not password:
            raise ValueError("MasterUsername and MasterUserPassword are required locally "
                             "(ManageMasterUserPassword is not emulated)")
        password = resolve_dynamic_references(password, self.account_id, self.region_name)
        database = context.current().database.ensure_running()
        database.set_login(username, password, superuser=False)
        if properties.get("DatabaseName"):
            _create_database_if_missing(database, properties["DatabaseName"], username)


def _create_database_if_missing(database, name, owner):
    from psycopg2 import sql

    connection = database.connect_admin("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)))
    finally:
        connection.close()


class ClusterMemberInstance:
    """A DBInstance of a cluster: nothing to run, the cluster's server is the instance."""

    def __init__(self, identifier, cluster_identifier):
        self.identifier = identifier
        self.cluster_identifier = cluster_identifier

    @property
    def physical_resource_id(self):
        return self.identifier

    def is_created(self):
        return True

    def get_cfn_attribute(self, attribute_name):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        database = context.current().database.ensure_running()
        if attribute_name == "Endpoint.Address":
            return database.host
        if attribute_name == "Endpoint.Port":
            return str(database.port)
        raise UnformattedGetAttTemplateException()

    def delete(self, account_id, region_name):
        """Nothing to delete."""


class ClusterAwareDBInstance:
    """The model map entry for AWS::RDS::DBInstance: cluster members here, others to moto."""

    def __init__(self, moto_model):
        self.moto_model = moto_model

    def cloudformation_type(self):
        return "AWS::RDS::DBInstance"

    def cloudformation_name_type(self):
        return self.moto_model.cloudformation_name_type()

    def has_cfn_attr(self, attr):
        return attr in ("Endpoint.Address", "Endpoint.Port") or self.moto_model.has_cfn_attr(attr)

    def create_from_cloudformation_json(self, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        cluster = properties.get("DBClusterIdentifier")
        if cluster:
            return ClusterMemberInstance(resource_name.lower(), str(cluster))
        return self.moto_model.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs)

    def update_from_cloudformation_json(self, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        if isinstance(original_resource, ClusterMemberInstance):
            return original_resource
        # moto has no update for DBInstance: keep the instance as it is.
        return original_resource

    def delete_from_cloudformation_json(self, resource_name, cloudformation_json, account_id,
                                        region_name):
        """Unused: both kinds of instance delete themselves (delete())."""


def apply():
    from moto.cloudformation import parsing
    from moto.rds.models import DBInstance

    model_map = parsing.get_model_map()  # lru_cache'd dict: changing it changes the lookup
    model_map["AWS::RDS::DBCluster"] = LocalAuroraCluster
    model_map["AWS::RDS::DBInstance"] = ClusterAwareDBInstance(DBInstance)
    # The physical name comes from DBClusterIdentifier when the template sets one.
    parsing.get_name_type_map()["AWS::RDS::DBCluster"] = "DBClusterIdentifier"
