"""What IAM is asked for one API call (fargate_platform/aws_requests.py)."""
from fargate_platform import aws_requests
from fargate_platform.aws_requests import Call
from fargate_platform.iam_policy import Request

ACCOUNT, REGION = "111111111111", "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0fa1"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0fa2"


class Keys:
    def arn(self, key_id):
        return KEY if key_id in (KEY, "0fa1", "alias/data") else OTHER_KEY

    def of_parameter(self, name):
        return None if name.endswith("plain") else OTHER_KEY


def requests(operation, **params):
    return aws_requests.requests_of(Call("ssm", operation, params), ACCOUNT, REGION, Keys())


def parameter(name):
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def ssm_context(name):
    return {"kms:EncryptionContext:PARAMETER_ARN": parameter(name),
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}


def test_a_securestring_put_asks_for_the_put_and_ssms_encrypt_with_the_callers_credentials():
    assert requests("PutParameter", Name="/p/x", Type="SecureString", KeyId="alias/data", Value="v") == [
        Request("ssm:PutParameter", parameter("/p/x")),
        Request("kms:Encrypt", KEY, ssm_context("/p/x")),
    ]
    assert requests("PutParameter", Name="/p/x", Type="String", Value="v") == [
        Request("ssm:PutParameter", parameter("/p/x"))]


def test_a_decrypting_read_of_several_parameters_asks_for_each_and_decrypts_only_securestrings():
    assert requests("GetParameters", Names=["/p/a", "/p/plain"], WithDecryption=True) == [
        Request("ssm:GetParameters", parameter("/p/a")),
        Request("ssm:GetParameters", parameter("/p/plain")),
        Request("kms:Decrypt", OTHER_KEY, ssm_context("/p/a")),
    ]
    assert requests("GetParameter", Name="/p/a", WithDecryption=False) == [Request("ssm:GetParameter", parameter("/p/a"))]


def test_an_action_without_resource_type_is_asked_on_star():
    assert requests("DescribeParameters", ParameterFilters=[]) == [Request("ssm:DescribeParameters", "*")]


def test_lambda_writes_the_functions_log_stream_and_manages_a_vpc_functions_interfaces():
    plain = aws_requests.lambda_service_requests("fn", "s1", None, ACCOUNT, REGION)
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:s1"
    assert plain == [Request("logs:CreateLogStream", stream), Request("logs:PutLogEvents", stream)]
    in_vpc = aws_requests.lambda_service_requests("fn", "s1", {"SubnetId": "subnet-1", "SecurityGroupId": "sg-1"},
                                                  ACCOUNT, REGION)
    assert {r.action for r in in_vpc[2:]} == {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                                              "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                              "ec2:UnassignPrivateIpAddresses"}
    assert Request("ec2:CreateNetworkInterface", f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-1") in in_vpc


def test_ecs_pulls_only_an_image_of_the_accounts_ecr_and_reads_the_containers_secrets():
    public = {"Name": "app", "Image": "public.ecr.aws/nginx/nginx:1", "Secrets": [
        {"ValueFrom": parameter("/p/app/db/password")}],
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "/g", "awslogs-stream-prefix": "app"}}}
    asked = aws_requests.ecs_agent_requests(public, Keys(), ACCOUNT, REGION)
    assert [r.action for r in asked] == ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameters", "kms:Decrypt"]
    private = dict(public, Image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:1")
    pulls = [r for r in aws_requests.ecs_agent_requests(private, Keys(), ACCOUNT, REGION) if r.action.startswith("ecr:")]
    assert pulls[0] == Request("ecr:GetAuthorizationToken")
    assert {r.resource for r in pulls[1:]} == {f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app"}
