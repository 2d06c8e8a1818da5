"""Each service's execution role and task role, as dev and prod render them, held against
what uses them (fargate_platform/aws_requests.py, decided by fargate_platform/iam_policy.py
under the role's policies, the environment's boundary and the data key's policy).

The execution role is ECS's: to start each container of the rendered task definition it
pulls the image (from the account's ECR only), writes the awslogs stream and reads the
container's SSM secrets, which SSM decrypts with the data key. Every such request must be
allowed, and every statement of the role must be used by one of them.

The task role is the application's: whatever its task_role_statements grant, it is denied
another service's parameters and credentials, and IAM.
"""
import dataclasses

import pytest
import rendered_iam

from fargate_platform import aws_requests
from fargate_platform.iam_policy import Request

ENVIRONMENTS = ["dev", "prod", "local"]  # local carries dev's IAM shape
SERVICES = ["order", "inventory"]
DATA_KEY = f"arn:aws:kms:{rendered_iam.REGION}:{rendered_iam.ACCOUNT}:key/0fa1c0de-0000-4000-8000-000000000001"


class DataKeyOnly:
    """Every SecureString of a service is under the environment's data key."""

    def arn(self, key_id):
        return DATA_KEY

    def of_parameter(self, name):
        return DATA_KEY


def stack(service):
    return f"services/{service}/service"


def task_definition(environment, service):
    body = rendered_iam.template(environment, stack(service))
    [logical] = [name for name, resource in body["Resources"].items() if resource["Type"] == "AWS::ECS::TaskDefinition"]
    return rendered_iam.resource(environment, stack(service), logical, {"DataKeyArn": DATA_KEY})


def agent_requests(environment, service):
    return [request for container in task_definition(environment, service)["ContainerDefinitions"]
            for request in aws_requests.ecs_agent_requests(container, DataKeyOnly(), rendered_iam.ACCOUNT,
                                                           rendered_iam.REGION)]


def decide(principal, request, environment):
    key_policy = rendered_iam.key_policy(environment, "rds", "DataKey") if request.resource == DATA_KEY else None
    request = dataclasses.replace(request, principal=f"arn:aws:iam::{rendered_iam.ACCOUNT}:role/{principal.name}")
    return principal.decide(request, key_policy)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICES)
def test_ecs_starts_each_container_with_the_execution_role(environment, service):
    principal = rendered_iam.role(environment, stack(service), "ExecutionRole", {"DataKeyArn": DATA_KEY})
    requests = agent_requests(environment, service)
    assert {request.action for request in requests} >= {"logs:PutLogEvents", "ssm:GetParameters", "kms:Decrypt"}
    denied = [f"{request.action} on {request.resource}: {decision.reason}"
              for request in requests if not (decision := decide(principal, request, environment))]
    assert not denied, denied


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_statement_of_the_execution_role_is_used(environment, service):
    principal = rendered_iam.role(environment, stack(service), "ExecutionRole", {"DataKeyArn": DATA_KEY})
    requests = agent_requests(environment, service)
    unused = []
    for statement in principal.policies[0]["Statement"]:
        alone = rendered_iam.Principal(principal.name, [{"Statement": [statement]}], None)
        if not any(alone.decide(request) for request in requests):
            unused.append(statement.get("Sid"))
    assert not unused, f"{principal.name} grants what ECS never uses: {unused}"


def _parameter(environment, service, name="db/password"):
    return aws_requests.parameter_arn(f"/fargate-platform/{environment}/{service}/{name}",
                                      rendered_iam.ACCOUNT, rendered_iam.REGION)


def _decrypt(environment, service):
    return Request("kms:Decrypt", DATA_KEY, {
        "kms:EncryptionContext:PARAMETER_ARN": _parameter(environment, service),
        "kms:ViaService": f"ssm.{rendered_iam.REGION}.amazonaws.com"})


def _denied_to_every_service(environment, service):
    other = next(name for name in SERVICES if name != service)
    return [
        Request("ssm:GetParameters", _parameter(environment, other)),
        Request("ssm:GetParameter", _parameter(environment, other, "db/username")),
        _decrypt(environment, other),
        Request("ssm:GetParameter", aws_requests.parameter_arn(
            f"/fargate-platform/{environment}/rds/admin-password", rendered_iam.ACCOUNT, rendered_iam.REGION)),
        Request("iam:CreateRole", f"arn:aws:iam::{rendered_iam.ACCOUNT}:role/anything"),
        Request("iam:PassRole", f"arn:aws:iam::{rendered_iam.ACCOUNT}:role/fargate-platform-{environment}-x"),
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ["ExecutionRole", "TaskRole"])
def test_a_services_roles_never_reach_another_services_credentials_or_iam(environment, service, role):
    principal = rendered_iam.role(environment, stack(service), role, {"DataKeyArn": DATA_KEY})
    if role == "TaskRole":  # the guard rails must hold whatever the service's statements grant
        principal = dataclasses.replace(principal, policies=[
            *principal.policies, {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])
    allowed = [f"{request.action} on {request.resource}" for request in _denied_to_every_service(environment, service)
               if decide(principal, request, environment)]
    assert not allowed, f"{principal.name} may {allowed}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_execution_role_reads_its_own_credentials_only_through_ssm(environment):
    principal = rendered_iam.role(environment, stack("order"), "ExecutionRole", {"DataKeyArn": DATA_KEY})
    assert decide(principal, _decrypt(environment, "order"), environment)
    direct = dataclasses.replace(_decrypt(environment, "order"), context={})  # no PARAMETER_ARN: not SSM's
    assert not decide(principal, direct, environment)


def test_an_image_in_the_accounts_ecr_is_pulled_from_its_repository_only():
    from troposphere import encode_to_dict

    from fargate_platform.templates.service import image_pull_statements

    image = f"{rendered_iam.ACCOUNT}.dkr.ecr.{rendered_iam.REGION}.amazonaws.com/team/order:1.4@sha256:{'0' * 64}"
    principal = rendered_iam.Principal("ecr", [{"Statement": rendered_iam.resolved(encode_to_dict(image_pull_statements(image)))}],
                                       rendered_iam.boundary("dev"))
    container = {"Name": "order", "Image": image}
    requests = aws_requests.ecs_agent_requests(container, DataKeyOnly(), rendered_iam.ACCOUNT, rendered_iam.REGION)
    assert len(requests) == 4 and all(principal.decide(request) for request in requests)
    other = Request("ecr:BatchGetImage", f"arn:aws:ecr:{rendered_iam.REGION}:{rendered_iam.ACCOUNT}:repository/team/other")
    assert not principal.decide(other)
    assert image_pull_statements("public.ecr.aws/nginx/nginx-unprivileged:1.27") == []
