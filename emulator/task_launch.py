"""How the task supervisor (tasks.py) starts one task, as ECS and the Fargate agent do.

A task of moto's backend (list-tasks / describe-tasks show it) and one process: argv = the
(first) container's `command`, in its `workingDirectory` relative to the project, its own
process group, stdin closed, with exactly a Fargate container's environment (_environment:
its variables, its SSM secrets once the execution role's start is decided, task-role
credentials from the emulator's endpoint, AWS_REGION, AWS_ENDPOINT_URL, an empty HOME of its
own, PORT and HOST on 127.0.0.1), a private IP of its subnet, registered in its target
groups, its output in its awslogs stream. A task that cannot start stops with ECS's reason.

The process is started through util-linux's `setpriv --pdeathsig TERM` when the machine has
it (Debian always does): should the emulator itself be killed (SIGKILL, no clean stop), the
kernel sends each task SIGTERM, so no task outlives it.
"""
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from emulator import awslogs, task_environment, task_network
from emulator.task_model import LocalTask, WithoutAwsvpc, now
from fargate_platform.local.ports import free_port

SETPRIV = shutil.which("setpriv")


def with_parent_death_signal(argv):
    """argv run so that the kernel SIGTERMs it when the thread that started it ends."""
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv] if SETPRIV else list(argv)


class LaunchingTasks:
    """The supervisor's task starts (a mixin of tasks.TaskSupervisor: its lock, its tasks,
    its credentials, its context)."""

    def _start_task(self, account, region, backend, service, definition):
        from moto.ecs.models import Task

        from emulator import task_start

        cluster = backend._get_cluster(service.cluster_name)
        network = service.network_configuration or None
        # Without awsvpc for moto: its own ENI fails (NetworkInterface.private_dns_name is unset
        # for an address it is given); _network makes the task's ENI in its subnet.
        task = Task(cluster, WithoutAwsvpc(definition), None, None, backend=backend,
                    group=f"service:{service.name}", launch_type=service.launch_type or "FARGATE",
                    started_by=self._deployment_id(service),
                    tags=list(service.tags) if service.propagate_tags == "SERVICE" else [],
                    networking_configuration=None)
        task.network_configuration = network or {}
        task._transitions = []  # lastStatus is what the process does, not moto's state machine
        task.started_at = now()
        task.pull_started_at = task.started_at
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        container = definition.container_definitions[0]
        local = LocalTask(task, service.arn, definition, container)
        with self._lock:
            self._tasks[task.task_arn] = local
        moto_container = task.containers[0]
        moto_container.last_status = "PENDING"

        denial = task_start.start_denial(definition, account, region)
        if denial is not None:
            self._finish(local, denial.split(": ", 1)[-1] if denial.startswith("ECS Deployment") else denial,
                         exit_code=None)
            return local
        if not container.get("command"):
            self._finish(local, f"CannotStartContainerError: container {container['name']} has no "
                                "command: without its image's entry point it cannot run locally "
                                "(set the task definition's Command)", exit_code=None)
            return local
        try:
            environment = self._environment(local, account, region)
        except LookupError as exc:
            self._finish(local, f"ResourceInitializationError: unable to pull secrets or registry "
                                f"auth: execution resource retrieval failed: {exc}", exit_code=None)
            return local
        try:
            task_network.place(local, service, account, region, self._addresses_in_use())
        except Exception as exc:  # noqa: BLE001 - the task cannot be placed
            self._finish(local, f"ResourceInitializationError: {exc}", exit_code=None)
            return local
        workdir = self.project_dir / (container.get("workingDirectory") or ".")
        argv = [str(part) for part in container["command"]]
        if shutil.which(argv[0], path=environment["PATH"]) is None and not (workdir / argv[0]).is_file():
            task_network.deregister(local, remove=True)
            self._finish(local, f"CannotStartContainerError: exec: \"{argv[0]}\": executable file not "
                                "found in $PATH", exit_code=None)
            return local
        log = awslogs.open_stream(container, task.id, account, region)
        try:
            process = subprocess.Popen(
                with_parent_death_signal(argv), cwd=workdir, env=environment,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            task_network.deregister(local, remove=True)
            self._finish(local, f"CannotStartContainerError: {exc}", exit_code=None)
            return local
        local.process = process
        local.started = time.monotonic()
        sinks = [log.write] if log is not None else []
        for pipe in (process.stdout, process.stderr):
            reader = threading.Thread(target=awslogs.pump, args=(pipe, sinks), daemon=True,
                                      name=f"task-output-{task.id[:8]}")
            reader.start()
            local.readers.append(reader)
        moto_container.last_status = "RUNNING"
        moto_container.network_interfaces = [{"attachmentId": a["id"], "privateIpv4Address": local.ip}
                                             for a in task.attachments] if local.ip else []
        task_network.register(local, service, account, region)
        return local

    def _addresses_in_use(self):
        with self._lock:
            return {t.ip for t in self._tasks.values() if t.ip and t.state != "stopped"}

    def _environment(self, local, account, region):
        container = local.container
        home = self.context.state_dir / "tasks" / local.task.id / "home"
        home.mkdir(parents=True, exist_ok=True)
        local.local_port = free_port()
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home)}
        env.update({str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []})
        env.update(task_environment.secrets_of(container, account, region))
        with self._lock:
            role = local.definition.task_role_arn if hasattr(local.definition, "task_role_arn") else None
            if role:
                self._credentials[local.token] = (role, local.task.id, region)
        if role:
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = \
                f"{self.context.endpoint_url}/_fargate_platform/task-credentials/{local.token}"
        env.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                    "AWS_ENDPOINT_URL": self.context.endpoint_url,
                    "PORT": str(local.local_port), "HOST": "127.0.0.1"})
        return env
