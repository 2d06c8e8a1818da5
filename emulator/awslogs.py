"""The awslogs log driver for the local tasks (tasks.py): each line a task's container
writes on stdout or stderr becomes one event of its CloudWatch Logs stream, in moto's
logs backend, as the ECS agent's awslogs driver sends them:

    group  = the container's logConfiguration options["awslogs-group"]
    stream = <awslogs-stream-prefix>/<container name>/<task id>

The stream is created when the task starts (the group too when "awslogs-create-group"
is "true"; otherwise a missing group means the task's lines are dropped, as the agent
cannot write them). A container with another (or no) log driver writes nowhere.
"""
import threading
import time

_lock = threading.Lock()  # moto's logs backend is not thread-safe; the readers are threads


def stream_name(container, task_id):
    options = (container.get("logConfiguration") or {}).get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    return f"{prefix}/{container['name']}/{task_id}" if prefix else task_id


class LogStream:
    """Where one task's container writes; `write(line)` is safe from several threads."""

    def __init__(self, backend, group, stream):
        self.backend, self.group, self.stream = backend, group, stream

    def write(self, line):
        line = line.rstrip("\r\n")
        if not line:
            return
        event = {"timestamp": int(time.time() * 1000), "message": line}
        with _lock:
            try:
                self.backend.put_log_events(self.group, self.stream, [event])
            except Exception:  # noqa: BLE001 - the group was deleted meanwhile: dropped
                pass


def open_stream(container, task_id, account, region):
    """The task's LogStream (its stream created), or None when the container does not use
    the awslogs driver or its group does not exist."""
    configuration = container.get("logConfiguration") or {}
    if configuration.get("logDriver") != "awslogs":
        return None
    options = configuration.get("options") or {}
    group = options.get("awslogs-group")
    if not group:
        return None
    from moto.logs.models import logs_backends

    backend = logs_backends[account][options.get("awslogs-region") or region]
    name = stream_name(container, task_id)
    with _lock:
        if str(options.get("awslogs-create-group", "")).lower() == "true":
            backend.ensure_log_group(group)
        if group not in backend.groups:
            return None
        try:
            backend.create_log_stream(group, name)
        except Exception:  # noqa: BLE001 - it exists already (a restarted emulator's task id)
            pass
    return LogStream(backend, group, name)


def pump(pipe, sinks):
    """Read `pipe` line by line until EOF, handing each line to every sink (a thread's
    target)."""
    try:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace")
            for sink in sinks:
                if sink is not None:
                    sink(line)
    except (OSError, ValueError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass
