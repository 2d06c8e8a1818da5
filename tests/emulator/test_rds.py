"""Patch 3: AWS::RDS::DBCluster on the real local PostgreSQL server, password from SSM."""
import json

import psycopg2
import pytest


def cluster_template(parameter, version, deletion_policy="Snapshot", database_name=None):
    cluster = {
        "Type": "AWS::RDS::DBCluster",
        "DeletionPolicy": deletion_policy,
        "UpdateReplacePolicy": deletion_policy,
        "Properties": {
            "Engine": "aurora-postgresql",
            "EngineVersion": "16.6",
            "MasterUsername": "platform_admin",
            "MasterUserPassword": {"Fn::Join": ["", [
                "{{resolve:ssm-secure:", parameter, ":", version, "}}"]]},
            "StorageEncrypted": True,
        },
    }
    if database_name:
        cluster["Properties"]["DatabaseName"] = database_name
    return json.dumps({
        "Resources": {
            "Cluster": cluster,
            "Writer": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "Engine": "aurora-postgresql", "DBInstanceClass": "db.t4g.medium",
                "DBClusterIdentifier": {"Ref": "Cluster"}}},
        },
        "Outputs": {
            "Address": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Port"]}},
            "ClusterId": {"Value": {"Ref": "Cluster"}},
            "WriterAddress": {"Value": {"Fn::GetAtt": ["Writer", "Endpoint.Address"]}},
        },
    })


@pytest.fixture
def admin_parameter(emulator):
    """A SecureString with two versions: the template pins one of them."""
    name = "/" + emulator.unique("rds") + "/admin-password"
    ssm = emulator.client("ssm")
    ssm.put_parameter(Name=name, Value="first-Secret-1", Type="SecureString")
    ssm.put_parameter(Name=name, Value="second-Secret-2", Type="SecureString", Overwrite=True)
    return name


def connect(emulator, outputs, password, dbname="postgres"):
    server = emulator.control("postgres")
    return psycopg2.connect(
        host=outputs["Address"], port=int(outputs["Port"]), user="platform_admin",
        password=password, dbname=dbname, sslmode="verify-full",
        sslrootcert=server["ca_cert_path"], connect_timeout=10)


def login_fails(emulator, outputs, password):
    try:
        connect(emulator, outputs, password).close()
    except psycopg2.OperationalError as error:
        return "password authentication failed" in str(error)
    return False


def test_cluster_endpoint_is_the_local_server_with_the_pinned_password(emulator, admin_parameter):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("rds-stack")
    cfn.create_stack(StackName=name, TemplateBody=cluster_template(admin_parameter, "1"))
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    outputs = emulator.outputs(name)
    server = emulator.control("postgres")
    assert outputs["Address"] == "127.0.0.1"
    assert outputs["Port"] == str(server["port"])
    assert outputs["WriterAddress"] == "127.0.0.1"
    assert outputs["ClusterId"].startswith(name.lower())
    # Version 1 of the parameter is the password, over TLS verified against the local CA.
    with connect(emulator, outputs, "first-Secret-1") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                           "WHERE rolname = current_user")
            assert cursor.fetchone() == (False, True, True)  # RDS's master user rights
            cursor.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cursor.fetchone() == (True,)
    assert login_fails(emulator, outputs, "second-Secret-2")
    # The clustered instance is not a separate moto database instance.
    instances = emulator.client("rds").describe_db_instances()["DBInstances"]
    assert not [i for i in instances if i["DBInstanceIdentifier"].startswith(name.lower())]


def test_an_update_to_a_new_version_changes_the_password(emulator, admin_parameter):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("rds-stack")
    cfn.create_stack(StackName=name, TemplateBody=cluster_template(admin_parameter, "1"))
    cfn.update_stack(StackName=name, TemplateBody=cluster_template(admin_parameter, "2"))
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"
    outputs = emulator.outputs(name)
    connect(emulator, outputs, "second-Secret-2").close()
    assert login_fails(emulator, outputs, "first-Secret-1")


def test_deleting_the_stack_keeps_the_data(emulator, admin_parameter):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("rds-stack")
    database = emulator.unique("kept").replace("-", "_")
    cfn.create_stack(StackName=name, TemplateBody=cluster_template(
        admin_parameter, "1", database_name=database))
    outputs = emulator.outputs(name)
    connection = connect(emulator, outputs, "first-Secret-1", dbname=database)
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE orders (id int)")
        cursor.execute("INSERT INTO orders VALUES (42)")
    connection.close()
    cfn.delete_stack(StackName=name)
    assert name not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    # DeletionPolicy Snapshot: the cluster's data (and its master login) are still there.
    connection = connect(emulator, outputs, "first-Secret-1", dbname=database)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM orders")
        assert cursor.fetchall() == [(42,)]
    connection.close()


def test_a_missing_parameter_version_fails_the_cluster_with_its_name(emulator, admin_parameter):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("rds-stack")
    cfn.create_stack(StackName=name, TemplateBody=cluster_template(admin_parameter, "7"))
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in emulator.events(name)
               if e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and f"{admin_parameter} version 7" in reasons[0]
    assert "Secret" not in " ".join(reasons)  # no parameter value in any reason


def test_only_aurora_postgresql_is_emulated(emulator, admin_parameter):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("rds-stack")
    body = json.loads(cluster_template(admin_parameter, "1"))
    body["Resources"]["Cluster"]["Properties"]["Engine"] = "aurora-mysql"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = " ".join(e.get("ResourceStatusReason", "") for e in emulator.events(name))
    assert "aurora-mysql" in reasons


def test_the_control_api_restarts_a_stopped_server_on_the_same_port(emulator):
    import subprocess
    from pathlib import Path

    before = emulator.control("postgres")
    data = Path(before["server_dir"]) / "data"
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    subprocess.run(["runuser", "-u", "postgres", "--", str(pg_ctl), "stop", "-D", str(data),
                    "-m", "fast", "-w"], check=True, capture_output=True)
    assert emulator.control("postgres")["running"] is False
    after = emulator.control("postgres", method="POST")
    assert after["running"] is True
    assert after["port"] == before["port"]
