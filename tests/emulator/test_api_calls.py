"""The emulator counts the AWS calls it serves, by service and operation, for each protocol
the platform's clients speak (query, JSON, REST)."""
import botocore.exceptions


def test_calls_are_counted_by_operation_and_reset(emulator):
    emulator.control("api-calls", method="DELETE")
    cloudformation, ssm, lambda_ = (emulator.client(name) for name in ("cloudformation", "ssm", "lambda"))
    for _ in range(3):
        cloudformation.list_stacks()  # query protocol (form body)
    ssm.describe_parameters()  # JSON protocol (X-Amz-Target)
    try:
        lambda_.get_function_configuration(FunctionName="no-such-function")  # REST
    except botocore.exceptions.ClientError:
        pass  # an answered error is a call too
    counted = emulator.control("api-calls", method="DELETE")
    assert counted["calls"] == {
        "cloudformation:ListStacks": 3,
        "ssm:DescribeParameters": 1,
        "lambda:GetFunctionConfiguration": 1,
    }
    assert counted["total"] == 5
    assert emulator.control("api-calls") == {"total": 0, "calls": {}}


def test_the_body_a_query_call_was_counted_from_still_reaches_moto(emulator):
    emulator.control("api-calls", method="DELETE")
    answer = emulator.client("cloudformation").validate_template(
        TemplateBody='{"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}')
    assert answer["Parameters"] == []
    assert emulator.control("api-calls")["calls"] == {"cloudformation:ValidateTemplate": 1}
