"""`!termination_protection` through Sceptre's connection manager and botocore, against a
stand-in CloudFormation endpoint on 127.0.0.1 (moto has no UpdateTerminationProtection)."""
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sceptre.connection_manager import ConnectionManager
from sceptre.exceptions import InvalidHookArgumentValueError
from sceptre.stack import Stack

from fargate_platform.hooks.termination_protection import TerminationProtection, protection_wanted

RESPONSE = b"""<UpdateTerminationProtectionResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
<UpdateTerminationProtectionResult><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/x/1</StackId>
</UpdateTerminationProtectionResult></UpdateTerminationProtectionResponse>"""


class CloudFormationStandIn(BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.requests.append(dict(urllib.parse.parse_qsl(body)))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.end_headers()
        self.wfile.write(RESPONSE)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), CloudFormationStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    CloudFormationStandIn.requests = []
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with ConnectionManager._client_lock:
        ConnectionManager._clients.clear()  # Sceptre caches clients per process
    yield CloudFormationStandIn.requests
    server.shutdown()
    with ConnectionManager._client_lock:
        ConnectionManager._clients.clear()


def stack():
    return Stack(name="prod/network", project_code="fargate-platform", region="eu-west-1",
                 template_handler_config={"type": "file", "path": "network.py"})


def test_bare_tag_turns_protection_on(endpoint, caplog):
    caplog.set_level(logging.INFO)
    TerminationProtection(None, stack()).run()
    (request,) = endpoint
    assert request["Action"] == "UpdateTerminationProtection"
    assert request["StackName"] == "fargate-platform-prod-network"
    assert request["EnableTerminationProtection"] == "true"
    assert "prod/network: termination protection on" in caplog.text


def test_false_turns_it_off(endpoint):
    TerminationProtection("false", stack()).run()
    assert endpoint[0]["EnableTerminationProtection"] == "false"


@pytest.mark.parametrize("argument", ["yes", 1, 0, {"on": True}])
def test_other_arguments_are_refused(argument):
    with pytest.raises(InvalidHookArgumentValueError, match="takes no argument, true or false"):
        protection_wanted(argument)
