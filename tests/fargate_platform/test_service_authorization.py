"""The offline Service Authorization Reference (fargate_platform/service_authorization.py)."""
import pytest

from fargate_platform import service_authorization as reference


@pytest.mark.parametrize("prefix, operation, action", [
    ("ssm", "GetParameter", "ssm:GetParameter"),
    ("ssm", "DeleteParameters", "ssm:DeleteParameters"),  # not ssm:DeleteParameter
    ("lambda", "Invoke", "lambda:InvokeFunction"),  # by the action's documentation link
    ("s3", "GetObject", "s3:GetObject"),  # not s3:GetObjectVersion, which links the same page
    ("s3", "ListObjectsV2", "s3:ListBucket"),
    ("s3", "HeadObject", "s3:GetObject"),  # AUTHORIZED_AS: the reference links no page
    ("elasticloadbalancing", "DescribeRules", "elasticloadbalancing:DescribeRules"),
])
def test_an_operation_maps_to_the_action_aws_authorizes_it_as(prefix, operation, action):
    assert reference.action_of(prefix, operation) == action


def test_an_operation_the_reference_does_not_know_is_an_error_never_a_guess():
    with pytest.raises(reference.UnknownOperation, match="no IAM action for ssm NoSuchOperation"):
        reference.action_of("ssm", "NoSuchOperation")
    with pytest.raises(reference.UnknownOperation, match="no service with the IAM prefix"):
        reference.action_of("nosuchservice", "Get")


def test_the_arn_is_filled_from_the_names_and_an_action_without_resource_type_is_star():
    assert reference.resource_arns("ssm:GetParameter", {"ParameterNameWithoutLeadingSlash": "p/x"},
                                   "eu-west-1", "111111111111") == ["arn:aws:ssm:eu-west-1:111111111111:parameter/p/x"]
    assert reference.resource_arns("ssm:DescribeParameters", {}, "eu-west-1", "1") == ["*"]


def test_an_action_on_several_resource_types_is_asked_for_each_and_a_missing_required_one_fails():
    arns = reference.resource_arns("ec2:CreateNetworkInterface",
                                   {"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "SecurityGroupId": "sg-1"},
                                   "eu-west-1", "1")
    assert arns == ["arn:aws:ec2:eu-west-1:1:network-interface/eni-1", "arn:aws:ec2:eu-west-1:1:subnet/subnet-1",
                    "arn:aws:ec2:eu-west-1:1:security-group/sg-1"]
    with pytest.raises(reference.UnknownOperation, match="ssm:GetParameter acts on a parameter"):
        reference.resource_arns("ssm:GetParameter", {}, "eu-west-1", "1")
