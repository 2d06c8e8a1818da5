"""Patch 1: Lambda functions run from their own zip, without Docker, against the emulator."""
import base64
import os
import json
import time

HANDLER = '''
import json, os, sys, time
import boto3

def handler(event, context):
    print("running", context.function_name, "with", os.environ.get("GREETING"))
    action = event.get("action")
    if action == "raise":
        raise ValueError("asked to fail: " + event.get("why", ""))
    if action == "sleep":
        print("going to sleep", flush=True)
        time.sleep(event["seconds"])
    if action == "import":
        __import__(event["module"])
    if action == "ssm":
        boto3.client("ssm").put_parameter(Name=event["name"], Value=event["value"],
                                          Type="String", Overwrite=True)
    return {
        "event": event,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "region": os.environ.get("AWS_REGION"),
        "greeting": os.environ.get("GREETING"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "path0": sys.path[0],
    }
'''


def make_function(emulator, timeout=3, code=None):
    name = emulator.unique("fn")
    key = emulator.upload_zip({"app/__init__.py": "", "app/main.py": code or HANDLER})
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=emulator.role_arn(),
        Handler="app.main.handler", Code={"S3Bucket": emulator.code_bucket, "S3Key": key},
        Timeout=timeout, Environment={"Variables": {"GREETING": "hello"}},
    )
    return name


def invoke(emulator, name, event, **kwargs):
    response = emulator.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event),
                                                **kwargs)
    return response, response["Payload"].read()


def test_invoke_runs_the_functions_own_zip_with_its_environment(emulator):
    name = make_function(emulator, timeout=5)
    response, payload = invoke(emulator, name, {"hello": "world"}, LogType="Tail")
    result = json.loads(payload)
    assert "FunctionError" not in response
    assert result["event"] == {"hello": "world"}
    assert result["greeting"] == "hello"
    assert result["endpoint"] == emulator.url
    assert result["region"] == "eu-west-1"
    assert 0 < result["remaining_ms"] <= 5000
    assert "/lambda/code/" in result["path0"]  # the unpacked zip comes first
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']}" in tail
    assert "running " + name + " with hello" in tail


def test_the_function_calls_aws_through_the_emulator(emulator):
    name = make_function(emulator)
    parameter = "/" + emulator.unique("lambda-wrote")
    invoke(emulator, name, {"action": "ssm", "name": parameter, "value": "from-lambda"})
    value = emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    assert value == "from-lambda"


def test_an_exception_is_a_function_error_like_aws(emulator):
    name = make_function(emulator)
    response, payload = invoke(emulator, name, {"action": "raise", "why": "bad input"})
    error = json.loads(payload)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail: bad input"
    assert any("app/main.py" in frame for frame in error["stackTrace"])
    assert not any("lambda_bootstrap" in frame for frame in error["stackTrace"])


def test_the_timeout_kills_the_function_with_lambdas_message(emulator):
    name = make_function(emulator, timeout=1)
    started = time.time()
    response, payload = invoke(emulator, name, {"action": "sleep", "seconds": 30})
    elapsed = time.time() - started
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(payload)["errorMessage"]
    assert elapsed < 5
    # What the function printed before it was killed still reaches its logs.
    logs = emulator.client("logs")
    group = f"/aws/lambda/{name}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in
                logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]
    assert "going to sleep" in messages
    assert any("Task timed out after 1.00 seconds" in m for m in messages)


def test_event_invocation_returns_at_once_and_runs_in_the_background(emulator):
    name = make_function(emulator)
    parameter = "/" + emulator.unique("event-wrote")
    started = time.time()
    response, _ = invoke(emulator, name, {"action": "ssm", "name": parameter, "value": "async"},
                         InvocationType="Event")
    assert response["StatusCode"] == 202
    assert time.time() - started < 0.5  # the subprocess alone takes longer than that
    ssm = emulator.client("ssm")
    deadline = time.time() + 20
    while time.time() < deadline:
        found = ssm.get_parameters(Names=[parameter])["Parameters"]
        if found:
            assert found[0]["Value"] == "async"
            return
        time.sleep(0.2)
    raise AssertionError("the Event invocation never ran")


def test_logs_go_to_the_functions_log_group(emulator):
    name = make_function(emulator)
    invoke(emulator, name, {})
    invoke(emulator, name, {"action": "raise", "why": "logged"})
    logs = emulator.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 2
    text = "\n".join(
        e["message"] for s in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"])
    assert f"running {name} with hello" in text
    assert "[ERROR] ValueError: asked to fail: logged" in text
    assert text.count("REPORT RequestId:") == 2


def test_the_function_sees_its_zip_and_boto3_but_not_the_emulators_packages(emulator):
    name = make_function(emulator)
    response, _ = invoke(emulator, name, {"action": "import", "module": "boto3"})
    assert "FunctionError" not in response
    response, payload = invoke(emulator, name, {"action": "import", "module": "moto"})
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(payload)["errorType"] == "ModuleNotFoundError"


def test_a_missing_handler_module_is_an_import_error(emulator):
    name = emulator.unique("fn")
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=emulator.role_arn(),
        Handler="nowhere.handler", Code={"ZipFile": emulator.build_zip({"other.py": ""})},
    )
    response, payload = invoke(emulator, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(payload)["errorType"] == "Runtime.ImportModuleError"


COUNTER = '''
import os, time
CALLS = []

def handler(event, context):
    CALLS.append(1)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"calls": len(CALLS), "pid": os.getpid(), "greeting": os.environ.get("GREETING")}
'''


def test_a_warm_environment_is_reused_until_the_configuration_changes(emulator):
    name = make_function(emulator, timeout=2, code=COUNTER)
    first = json.loads(invoke(emulator, name, {})[1])
    second = json.loads(invoke(emulator, name, {})[1])
    assert (first["calls"], second["calls"]) == (1, 2)  # module state kept, as in Lambda
    assert first["pid"] == second["pid"]
    emulator.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GREETING": "changed"}})
    third = json.loads(invoke(emulator, name, {})[1])
    assert third["greeting"] == "changed"
    assert third["calls"] == 1 and third["pid"] != first["pid"]


def test_a_timed_out_environment_is_not_reused(emulator):
    name = make_function(emulator, timeout=1, code=COUNTER)
    first = json.loads(invoke(emulator, name, {})[1])
    response, _ = invoke(emulator, name, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    after = json.loads(invoke(emulator, name, {})[1])
    assert after["calls"] == 1 and after["pid"] != first["pid"]


def test_a_burst_of_invocations_all_complete(emulator):
    from concurrent.futures import ThreadPoolExecutor

    name = make_function(emulator, timeout=10, code=COUNTER)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: json.loads(invoke(emulator, name, {"sleep": 0.2})[1]),
                                range(8)))
    assert len(results) == 8
    # Warm environments served several invocations each; never more than the limit ran.
    pids = {r["pid"] for r in results}
    assert len(pids) <= max(2, os.cpu_count() or 2)
    assert sum(r["calls"] for r in results) > len(results)
