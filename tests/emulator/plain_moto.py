"""Code run by plain moto, without the layer: the emulator's virtualenv (moto with its
CloudFormation extra) in a subprocess, for the tests that show what each patch supplies.
`from plain_moto import run_in_emulator_venv` (tests/emulator is on sys.path, tests/conftest.py)."""
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"


def run_in_emulator_venv(code, timeout=300):
    """The last line `code` prints, as JSON (the repository on PYTHONPATH: `emulator` importable)."""
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
