"""Patch 6 (task_start.py): a task definition keeps its roles, and ECS's start of a service's
tasks is decided under the execution role, as the deployment circuit breaker fails it on AWS."""
import json
import subprocess
from pathlib import Path

from botocore.exceptions import WaiterError

ACCOUNT, REGION = "123456789012", "eu-west-1"
EMULATOR_PYTHON = Path(__file__).resolve().parents[2] / ".venvs" / "emulator" / "bin" / "python"


def template(emulator, secret, statements):
    """A cluster, an execution role with `statements`, a task definition reading `secret`
    into the container and logging with awslogs, and a service."""
    group = emulator.unique("/test/tasks")
    return json.dumps({"Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": emulator.unique("cluster")}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}},
        "ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "execution", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": statements}}]}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": emulator.unique("family"), "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
            "RequiresCompatibilities": ["FARGATE"],
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            "ContainerDefinitions": [{
                "Name": "app", "Image": "public.ecr.aws/nginx/nginx-unprivileged:1.27",
                "Secrets": [{"Name": "DB_PASSWORD",
                             "ValueFrom": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{secret}"}],
                "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                    "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"}, "DesiredCount": 1,
            "ServiceName": "app"}},
    }})


def launch(emulator, statements):
    secret = "/" + emulator.unique("svc") + "/db/password"
    emulator.client("ssm").put_parameter(Name=secret, Value="Passw0rd-kept", Type="SecureString")
    cloudformation, stack = emulator.client("cloudformation"), emulator.unique("tasks")
    cloudformation.create_stack(StackName=stack, TemplateBody=template(emulator, secret, statements))
    try:
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    except WaiterError:
        pass
    return stack, secret


def logs_statement():
    return {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}


def test_a_service_starts_when_its_execution_role_may_read_its_secrets_and_write_its_logs(emulator):
    stack, _ = launch(emulator, [logs_statement(),
                                 {"Effect": "Allow", "Action": ["ssm:GetParameters", "kms:Decrypt"], "Resource": "*"}])
    assert emulator.stack(stack)["StackStatus"] == "CREATE_COMPLETE", [
        (e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in emulator.events(stack)
        if e["ResourceStatus"].endswith("FAILED")]
    [arn] = emulator.client("ecs").list_task_definitions()["taskDefinitionArns"][-1:]
    definition = emulator.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert definition["executionRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    assert definition["networkMode"] == "awsvpc" and definition["cpu"] == "256"
    assert definition["containerDefinitions"][0]["secrets"][0]["name"] == "DB_PASSWORD"  # ECS's own casing


def test_an_execution_role_that_may_not_read_the_secrets_fails_the_service_as_the_circuit_breaker_does(emulator):
    stack, secret = launch(emulator, [logs_statement()])
    assert emulator.stack(stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    [failed] = [e for e in emulator.events(stack)
                if e["LogicalResourceId"] == "Service" and e["ResourceStatus"] == "CREATE_FAILED"]
    reason = failed["ResourceStatusReason"]
    assert "ECS Deployment Circuit Breaker was triggered" in reason
    assert "ResourceInitializationError: unable to pull secrets or registry auth" in reason
    assert (f"is not authorized to perform: ssm:GetParameters on resource: "
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{secret} because no identity-based policy allows") in reason
    decisions = emulator.control("iam-decisions")
    assert any(actions.get("ssm:GetParameters", {}).get("denied") for actions in decisions.values())


def test_plain_moto_drops_a_task_definitions_execution_role():
    """Why the patch: moto's CloudFormation registers the task definition without its roles."""
    script = (
        "import json, boto3\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    cfn.create_stack(StackName='s', TemplateBody=json.dumps({'Resources': {'T': {\n"
        "        'Type': 'AWS::ECS::TaskDefinition', 'Properties': {'Family': 'f',\n"
        "        'ExecutionRoleArn': 'arn:aws:iam::123456789012:role/r',\n"
        "        'Memory': '512', 'ContainerDefinitions': [{'Name': 'c', 'Image': 'i'}]}}}}))\n"
        "    ecs = boto3.client('ecs', region_name='eu-west-1')\n"
        "    print(json.dumps(ecs.describe_task_definition(taskDefinition='f')['taskDefinition']"
        ".get('executionRoleArn')))\n"
    )
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", script], capture_output=True, text=True, timeout=120,
                            env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) is None
