"""task_launch.py: a task's process cannot outlive the emulator (its parent-death signal)."""
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # `emulator` is a top-level package of the repository

from emulator import task_launch  # noqa: E402


def test_a_task_gets_sigterm_when_the_thread_that_started_it_ends():
    assert task_launch.SETPRIV, "util-linux's setpriv (in every Debian) is missing"
    started = {}

    def start():  # as the supervisor's thread starts each task
        started["process"] = subprocess.Popen(task_launch.with_parent_death_signal(
            [sys.executable, "-c", "import time; time.sleep(60)"]))
        time.sleep(0.5)  # setpriv has set the signal and exec'd the command
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    process = started["process"]
    try:
        assert process.wait(timeout=10) == -15  # SIGTERM, from the kernel
    finally:
        if process.poll() is None:
            process.kill()


def test_without_setpriv_the_command_is_run_as_it_is(monkeypatch):
    monkeypatch.setattr(task_launch, "SETPRIV", None)
    assert task_launch.with_parent_death_signal(["python3", "app.py"]) == ["python3", "app.py"]
