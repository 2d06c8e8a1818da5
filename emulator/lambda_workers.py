"""Warm execution environments of the emulator's Lambda functions, as Lambda keeps them:
a Worker is one lambda_bootstrap.py process that runs one invocation at a time; the
WorkerPool keeps at most `limit` per function configuration, and retires a function's old
environments when its code or settings change."""
import json
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time

from emulator.lambda_bootstrap import MARKER


class Worker:
    """One warm execution environment (a lambda_bootstrap.py process)."""

    def __init__(self, process, work_dir):
        self.process = process
        self.work_dir = work_dir
        self._pending = b""

    def invoke(self, request, deadline):
        """Send one request; returns (output, "done" | "timeout" | "exited")."""
        marker = f"\n{MARKER} {request['request_id']}\n".encode()
        try:
            self.process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return "", "exited"
        buffer, self._pending = self._pending, b""
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            while marker not in buffer:
                remaining = deadline - time.time()
                if remaining <= 0:
                    return _text(buffer), "timeout"
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    return _text(buffer), "exited"
                buffer += chunk
        finally:
            selector.close()
        output, _, self._pending = buffer.partition(marker)
        return _text(output), "done"

    def stop(self):
        kill_group(self.process)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.work_dir, ignore_errors=True)


class WorkerPool:
    """Warm environments per function configuration, at most `limit` per configuration."""

    def __init__(self, limit):
        self.limit = limit
        self._condition = threading.Condition()
        self._idle = {}  # key -> [Worker]
        self._count = {}  # key -> workers alive (busy or idle)
        self._closed = False

    def acquire(self, key, start):
        with self._condition:
            self._retire_other_configurations(key)
            while True:
                if self._idle.get(key):
                    return self._idle[key].pop()
                if self._count.get(key, 0) < self.limit:
                    self._count[key] = self._count.get(key, 0) + 1
                    break
                self._condition.wait()
        try:
            return start()
        except BaseException:
            with self._condition:
                self._count[key] -= 1
                self._condition.notify_all()
            raise

    def release(self, key, worker, healthy):
        with self._condition:
            if healthy and not self._closed:
                self._idle.setdefault(key, []).append(worker)
                worker = None
            else:
                self._count[key] -= 1
            self._condition.notify_all()
        if worker is not None:
            worker.stop()

    def _retire_other_configurations(self, key):
        """A function whose code or settings changed: its old environments go."""
        for other in [k for k in self._idle if k[0] == key[0] and k != key]:
            for worker in self._idle.pop(other):
                self._count[other] -= 1
                worker.stop()

    def close(self):
        with self._condition:
            self._closed = True
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.stop()


def _text(data):
    return data.decode("utf-8", "replace")


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
