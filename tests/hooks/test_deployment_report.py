"""`!deployment_report`'s argument (its report is tested in tests/fargate_platform, and end to
end by a failing launch on the local platform, tests/e2e/test_local_data_plane.py)."""
import pytest
from sceptre.exceptions import InvalidHookArgumentTypeError

from fargate_platform.hooks.deployment_report import parse_argument


def test_the_argument_names_the_cluster_and_the_service():
    assert parse_argument({"cluster": "fargate-platform-dev", "service": "order"}) == ("fargate-platform-dev", "order")


@pytest.mark.parametrize("argument", [None, "order", {"service": "order"}, {"cluster": "c", "service": ""},
                                      {"cluster": "c", "service": "order", "extra": 1}, {"cluster": 3, "service": "o"}])
def test_anything_else_is_refused_with_the_usage(argument):
    with pytest.raises(InvalidHookArgumentTypeError, match=r"^!deployment_report takes \{cluster: CLUSTER_NAME, "
                                                           r"service: SERVICE_NAME\}; got "):
        parse_argument(argument)
