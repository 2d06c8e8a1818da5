"""Why an ECS deployment failed: its stopped tasks' reasons and their last log lines.

CloudFormation's event for a deployment the circuit breaker failed says only "Error occurred
during operation 'ECS Deployment Circuit Breaker was triggered'". The cause is on the tasks
ECS stopped: their stoppedReason, their container's exit code, and what they printed
before. The `!deployment_report` hook (hooks/deployment_report.py) prints them after a
create or update of a service stack that failed that way, the same on AWS and locally.

`call(service, command, kwargs)` is the caller's AWS client (Sceptre's connection manager).
"""
CIRCUIT_BREAKER = "ECS Deployment Circuit Breaker was triggered"
STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")
MAX_EVENT_PAGES = 10
MAX_TASKS = 3
LOG_LINES = 10


def latest_operation_events(call, stack_name):
    """The stack's events since its latest create or update began, newest first (at most
    MAX_EVENT_PAGES pages)."""
    events, token = [], None
    for _ in range(MAX_EVENT_PAGES):
        page = call("cloudformation", "describe_stack_events",
                    {"StackName": stack_name, **({"NextToken": token} if token else {})})
        for event in page["StackEvents"]:
            events.append(event)
            if event["LogicalResourceId"] == stack_name and event["ResourceStatus"] in STARTS:
                return events
        token = page.get("NextToken")
        if not token:
            break
    return events


def circuit_breaker_failure(events):
    """The event of a resource the circuit breaker failed among `events`, or None."""
    return next((e for e in events if e["ResourceStatus"].endswith("_FAILED")
                 and CIRCUIT_BREAKER in (e.get("ResourceStatusReason") or "")), None)


def stopped_tasks(call, cluster, service, since):
    """The service's tasks stopped since `since` (a datetime), newest first, at most MAX_TASKS."""
    arns, token = [], None
    for _ in range(MAX_EVENT_PAGES):
        page = call("ecs", "list_tasks", {"cluster": cluster, "desiredStatus": "STOPPED",
                                          **({"nextToken": token} if token else {})})
        arns += page["taskArns"]
        token = page.get("nextToken")
        if not token:
            break
    tasks = []
    for start in range(0, len(arns), 100):  # DescribeTasks takes 100 at a time
        tasks += call("ecs", "describe_tasks", {"cluster": cluster, "tasks": arns[start:start + 100]})["tasks"]
    mine = [t for t in tasks if t.get("group") == f"service:{service}"
            and t.get("stoppedAt") and t["stoppedAt"] >= since]
    return sorted(mine, key=lambda t: t["stoppedAt"], reverse=True)[:MAX_TASKS]


def last_log_lines(call, task):
    """The last LOG_LINES lines of the task's first container, from its awslogs stream ([] when
    it does not use awslogs or wrote nothing)."""
    definition = call("ecs", "describe_task_definition",
                      {"taskDefinition": task["taskDefinitionArn"]})["taskDefinition"]
    container = definition["containerDefinitions"][0]
    logging = container.get("logConfiguration") or {}
    options = logging.get("options") or {}
    if logging.get("logDriver") != "awslogs" or "awslogs-stream-prefix" not in options:
        return []
    stream = f"{options['awslogs-stream-prefix']}/{container['name']}/{task['taskArn'].rsplit('/', 1)[-1]}"
    try:
        events = call("logs", "get_log_events", {
            "logGroupName": options["awslogs-group"], "logStreamName": stream,
            "limit": LOG_LINES, "startFromHead": False})["events"]
    except Exception as error:  # noqa: BLE001 - no stream (the task never started): say so
        if "ResourceNotFoundException" in type(error).__name__ + str(error):
            return []
        raise
    return [event["message"].rstrip("\n") for event in events]


def describe_task(task, lines):
    """A stopped task as the report prints it."""
    container = (task.get("containers") or [{}])[0]
    exit_code = container.get("exitCode")
    revision = task["taskDefinitionArn"].rsplit("/", 1)[-1]
    text = [f"task {task['taskArn'].rsplit('/', 1)[-1]} ({revision}) stopped: "
            f"{task.get('stoppedReason', 'no reason given')}"
            + (f"; exit code {exit_code}" if exit_code is not None else "")]
    if lines:
        text.append(f"  its last {len(lines)} log line(s):")
        text += [f"    {line}" for line in lines]
    else:
        text.append("  no log line")
    return text


def report(call, stack_name, cluster, service):
    """The lines to print about a failed deployment of `service`, or [] when the latest
    operation of `stack_name` did not fail by the circuit breaker."""
    events = latest_operation_events(call, stack_name)
    failure = circuit_breaker_failure(events)
    if failure is None:
        return []
    since = events[-1]["Timestamp"]
    tasks = stopped_tasks(call, cluster, service, since)
    lines = [f"the deployment of service {service} failed ({failure['LogicalResourceId']}: "
             f"{CIRCUIT_BREAKER}); {len(tasks) or 'no'} task(s) stopped since it began"
             + (", newest first:" if tasks else "")]
    for task in tasks:
        lines += describe_task(task, last_log_lines(call, task))
    return lines
