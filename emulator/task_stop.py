"""Stopping a local task as ECS stops one: deregister its targets, drain for the target
group's deregistration delay, SIGTERM to its process group, SIGKILL after the container's
stopTimeout, then its record (moto's Task: STOPPED, stoppedReason, exit code) and its ENI.
A mixin of the task supervisor (tasks.py), whose lock, tasks and credentials it uses."""
import os
import shutil
import signal
import subprocess
import threading
import time

from emulator import targets, task_network
from emulator.task_model import now

MAX_STOP_TIMEOUT = 30.0
EXITED = "Essential container in task exited"


class StoppingTasks:
    @staticmethod
    def _stop_timeout(local):
        value = local.container.get("stopTimeout")
        return min(MAX_STOP_TIMEOUT, float(value) if value is not None else 30.0)

    @staticmethod
    def _signal(local, signum):
        if local.process is None or local.process.poll() is not None:
            if local.process is not None:  # its group may still hold children
                try:
                    os.killpg(local.process.pid, signum)
                except OSError:
                    pass
            return
        try:
            os.killpg(local.process.pid, signum)
        except OSError:
            pass

    def _kill_after(self, local, seconds):
        """SIGKILL to the task's group if its process has not ended within `seconds`."""
        if local.process is not None:
            try:
                local.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                pass
        self._signal(local, signal.SIGKILL)
        if local.process is not None:
            try:
                local.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _begin_stop(self, local, reason):
        """ECS's stop, in a thread: deregister, drain, SIGTERM, SIGKILL after stopTimeout."""
        with self._lock:
            if local.state != "running":
                return
            local.state = "stopping"
        local.task.desired_status = "STOPPED"
        local.task.stopped_reason = reason
        local.task.stopping_at = now()
        local.task.last_status = "DEACTIVATING" if local.groups and not local.exited() else "STOPPING"
        thread = threading.Thread(target=self._stop, args=(local, reason), daemon=True,
                                  name=f"task-stop-{local.task.id[:8]}")
        self._stoppers.append(thread)
        thread.start()

    def _stop(self, local, reason):
        try:
            drain = task_network.drain_seconds(local)
            task_network.deregister(local)
            if not local.exited():
                deadline = time.monotonic() + drain
                while time.monotonic() < deadline and not self._stopping.is_set() and not local.exited():
                    time.sleep(0.1)
            local.task.last_status = "STOPPING"
            self._signal(local, signal.SIGTERM)
            self._kill_after(local, self._stop_timeout(local))
            self._finish(local, reason)
        finally:
            try:
                self._stoppers.remove(threading.current_thread())
            except ValueError:
                pass

    def _finish(self, local, reason, exit_code="process", deregister=False):
        if deregister:
            task_network.deregister(local)
        for group in local.groups:
            targets.TABLE.remove(group, local.ip, local.container_port)
        for reader in local.readers:
            reader.join(timeout=2)
        with self._lock:
            local.state = "stopped"
            self._credentials.pop(local.token, None)
            self._issued.pop(local.token, None)
            self._tasks.pop(local.arn, None)
        task = local.task
        if not task.stopped_reason:
            task.stopped_reason = reason
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_at = now()
        task.stop_code = "EssentialContainerExited" if task.stopped_reason == EXITED else (
            "TaskFailedToStart" if exit_code is None else "ServiceSchedulerInitiated")
        container = task.containers[0]
        container.last_status = "STOPPED"
        if exit_code == "process" and local.process is not None:
            code = local.process.returncode
            code = 128 - code if code is not None and code < 0 else code  # killed: 128 + signal
            container.exitCode = code
            container.exit_code = code
        else:
            container.exitCode = None
            container.exit_code = None
            container.reason = reason
        task_network.release_eni(local)
        if self.context is not None:  # its HOME, as a stopped task's storage is gone
            shutil.rmtree(self.context.state_dir / "tasks" / task.id, ignore_errors=True)
