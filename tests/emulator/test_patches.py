"""What the layer relies on in moto: fails when a moto upgrade changes it.

Two kinds of checks:
- the functions the patches replace or wrap still exist with the parameters they
  expect (patches.check(), run in the emulator's own virtualenv);
- plain moto (its own server, without the layer) still lacks each feature the
  layer supplies: when one of these fails, moto gained the feature and the
  matching patch can probably go.
"""
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from plain_moto import run_in_emulator_venv

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"
REGION = "eu-west-1"


def test_moto_is_the_pinned_version_with_the_functions_the_patches_expect():
    problems = run_in_emulator_venv(
        "import json; from emulator import patches; "
        "print(json.dumps(patches.check()))")
    assert problems == []
    pins = (REPO / "requirements" / "emulator.txt").read_text()
    assert "moto[server,cloudformation]==5.2.5" in pins


def test_the_check_notices_a_changed_signature():
    # The guard itself: a moto function reshaped under the layer is reported.
    problems = run_in_emulator_venv(
        "import json\n"
        "from moto.awslambda.models import LambdaFunction\n"
        "LambdaFunction.invoke = lambda self, body, headers: None\n"
        "from emulator import patches\n"
        "print(json.dumps(patches.check()))")
    assert len(problems) == 1 and "LambdaFunction.invoke" in problems[0]


def test_moto_still_sends_custom_resources_to_docker_with_an_unreachable_url():
    # Captures the event moto's own CustomModel would send to the function.
    event = run_in_emulator_venv(
        "import json\n"
        "from moto import mock_aws\n"
        "from moto.awslambda.models import LambdaFunction\n"
        "seen = []\n"
        "LambdaFunction.invoke = lambda self, body, *a: seen.append(json.loads(body))\n"
        "with mock_aws():\n"
        "    import boto3, io, zipfile\n"
        "    iam = boto3.client('iam', region_name='eu-west-1')\n"
        "    role = iam.create_role(RoleName='r', AssumeRolePolicyDocument='{}')['Role']['Arn']\n"
        "    buf = io.BytesIO(); zipfile.ZipFile(buf, 'w').writestr('a.py', ''); \n"
        "    lam = boto3.client('lambda', region_name='eu-west-1')\n"
        "    arn = lam.create_function(FunctionName='f', Role=role, Handler='a.h',\n"
        "        Runtime='python3.12', Code={'ZipFile': buf.getvalue()})['FunctionArn']\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    cfn.create_stack(StackName='s', TemplateBody=json.dumps({'Resources': {'C': {\n"
        "        'Type': 'Custom::C', 'Properties': {'ServiceToken': arn}}}}))\n"
        "    import time; time.sleep(0.5)\n"
        "    status = cfn.describe_stacks(StackName='s')['Stacks'][0]['StackStatus']\n"
        "print(json.dumps(dict(seen[0], status=status)))")
    assert event["ResponseURL"].startswith("http://host.docker.internal")
    assert event["status"] == "CREATE_IN_PROGRESS"  # waits for an answer that cannot come


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def plain_moto():
    """moto's own server from the emulator's virtualenv, without the project's layer."""
    port = _free_port()
    process = subprocess.Popen(
        [str(EMULATOR_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise AssertionError("moto's server did not start")
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(url, service):
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _function(url):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.py", "def h(event, context):\n    return {'ran': True}\n")
    role = _client(url, "iam").create_role(
        RoleName=f"r{time.time_ns()}", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}),
    )["Role"]["Arn"]
    return _client(url, "lambda").create_function(
        FunctionName=f"f{time.time_ns()}", Role=role, Handler="a.h", Runtime="python3.12",
        Code={"ZipFile": buffer.getvalue()})["FunctionArn"]


def test_plain_moto_cannot_run_lambda_code_without_docker(plain_moto):
    arn = _function(plain_moto)
    response = _client(plain_moto, "lambda").invoke(FunctionName=arn, Payload=b"{}")
    payload = response["Payload"].read().decode()
    assert "ran" not in payload
    assert "docker" in payload.lower()


def test_plain_moto_never_takes_an_answer_and_ignores_failed_ones(plain_moto):
    cfn = _client(plain_moto, "cloudformation")
    arn = _function(plain_moto)
    stack_id = cfn.create_stack(StackName=f"s{time.time_ns()}", TemplateBody=json.dumps({
        "Resources": {"C": {"Type": "Custom::C", "Properties": {"ServiceToken": arn}}}}))["StackId"]
    body = json.dumps({"Status": "SUCCESS", "StackId": stack_id, "LogicalResourceId": "C",
                       "RequestId": "r", "PhysicalResourceId": "p", "Data": {}}).encode()
    # moto's own ResponseURL path, on its server, under each name a function could use.
    for host in (None, f"cloudformation.{REGION}.amazonaws.com", "host.docker.internal:5000"):
        request = urllib.request.Request(
            f"{plain_moto}/cloudformation_{REGION}/cfnresponse?stack={stack_id}", data=body,
            method="PUT", headers={"Host": host} if host else {})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 404
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == \
        "CREATE_IN_PROGRESS"
    # And were an answer to arrive, only SUCCESS is looked at.
    source = run_in_emulator_venv(
        "import inspect, json\n"
        "from moto.cloudformation.responses import CloudFormationResponse as R\n"
        "print(json.dumps(inspect.getsource(R.process_cfn_response)))")
    assert 'if status == "SUCCESS":' in source and "FAILED" not in source


def test_plain_moto_skips_db_clusters_and_leaves_dynamic_references_unresolved(plain_moto):
    cfn = _client(plain_moto, "cloudformation")
    ssm = _client(plain_moto, "ssm")
    ssm.put_parameter(Name="/plain/secret", Value="hidden", Type="SecureString")
    name = f"s{time.time_ns()}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {
        "Cluster": {"Type": "AWS::RDS::DBCluster", "Properties": {
            "Engine": "aurora-postgresql", "MasterUsername": "admin_user",
            "MasterUserPassword": "{{resolve:ssm-secure:/plain/secret:1}}"}},
        "Copy": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/plain/copy", "Type": "String", "Value": "{{resolve:ssm:/plain/secret}}"}},
    }}))
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert "Cluster" not in [r.get("LogicalResourceId") for r in resources]
    assert _client(plain_moto, "rds").describe_db_clusters()["DBClusters"] == []
    copied = ssm.get_parameter(Name="/plain/copy")["Parameter"]["Value"]
    assert copied == "{{resolve:ssm:/plain/secret}}"


def test_plain_moto_makes_a_clustered_instance_a_standalone_one(plain_moto):
    cfn = _client(plain_moto, "cloudformation")
    name = f"s{time.time_ns()}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {
        "Writer": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": name, "Engine": "postgres", "DBInstanceClass": "db.t4g.medium",
            "DBClusterIdentifier": "some-cluster", "AllocatedStorage": "20",
            "MasterUsername": "u", "MasterUserPassword": "p" * 12}}}}))
    instances = _client(plain_moto, "rds").describe_db_instances(
        DBInstanceIdentifier=name)["DBInstances"]
    assert instances and "DBClusterIdentifier" not in instances[0]


def test_plain_moto_fails_on_kms_key_tags(plain_moto):
    cfn = _client(plain_moto, "cloudformation")
    name = f"s{time.time_ns()}"
    try:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Key": {
            "Type": "AWS::KMS::Key", "Properties": {
                "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
                "Tags": [{"Key": "Project", "Value": "p"}]}}}}))
    except Exception as error:  # noqa: BLE001 - moto answers 500 (KeyError 'TagKey')
        assert "500" in str(error) or "TagKey" in str(error)
    else:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        raise AssertionError(f"moto now creates a KMS key with Tags (stack {status}): "
                             "cloudformation_fixes.wrap_kms_key_create may go")


def test_plain_moto_updates_unchanged_stacks_instead_of_refusing(plain_moto):
    cfn = _client(plain_moto, "cloudformation")
    body = json.dumps({
        "Parameters": {"Names": {"Type": "CommaDelimitedList"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    bare = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    for template, parameters in ((body, [{"ParameterKey": "Names", "ParameterValue": "a,b"}]),
                                 (bare, [])):
        name = f"s{time.time_ns()}"
        cfn.create_stack(StackName=name, TemplateBody=template, Parameters=parameters)
        cfn.update_stack(StackName=name, TemplateBody=template, Parameters=parameters)
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == \
            "UPDATE_COMPLETE"


def test_plain_moto_leaves_these_resources_behind_when_their_stack_is_deleted():
    leftovers = run_in_emulator_venv(
        "import importlib, json\n"
        "from moto.cloudformation import parsing\n"
        "from emulator.cloudformation_fixes import MISSING_DELETES\n"
        "found = []\n"
        "for module, name, _ in MISSING_DELETES:\n"
        "    model = getattr(importlib.import_module(module), name)\n"
        "    undeletable = hasattr(model.delete_from_cloudformation_json, '__isabstractmethod__')\n"
        "    if not callable(getattr(model, 'delete', None)) and undeletable:\n"
        "        found.append(name)\n"
        "print(json.dumps(found))")
    assert leftovers == ["FakeListenerRule", "FakeTargetGroup", "Service", "RouteTable",
                         "SubnetRouteTableAssociation", "NatGateway", "ElasticAddress",
                         "InternetGateway", "VPCGatewayAttachment", "VPCEndPoint"]
