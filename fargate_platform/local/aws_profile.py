"""The AWS profile `fargate-platform-local` that `local up` writes: one section of the AWS
config and credentials files (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE when set, else
~/.aws/config and ~/.aws/credentials), edited without touching any other profile, so that
`sceptre launch local` works from any shell while the emulator runs."""
import os
from pathlib import Path

PROFILE = "fargate-platform-local"
# The operator's key: the emulator allows it everything, as an administrator, and refuses
# every key it did not issue (iam_enforcement.py). Not a secret: it reaches 127.0.0.1 only.
DUMMY_KEY = "testing"


class AwsProfileFile:
    """One section of an AWS config/credentials file, edited without touching the others."""

    def __init__(self, path):
        self.path = Path(path)

    def _lines(self):
        return self.path.read_text().splitlines() if self.path.exists() else []

    @staticmethod
    def _bounds(lines, header):
        start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
        if start is None:
            return None
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        return start, end

    def section(self, header):
        """The keys and values of one section ({} when it is absent)."""
        lines = self._lines()
        bounds = self._bounds(lines, header)
        if not bounds:
            return {}
        pairs = (line.split("=", 1) for line in lines[bounds[0] + 1:bounds[1]] if "=" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def set_section(self, header, values):
        lines = self._lines()
        section = [header] + [f"{key} = {value}" for key, value in values.items()]
        bounds = self._bounds(lines, header)
        if bounds:
            start, end = bounds
            lines[start:end] = section + ([""] if end < len(lines) else [])
        else:
            if lines and lines[-1].strip():
                lines.append("")
            lines += section
        self._write(lines)

    def remove_section(self, header):
        lines = self._lines()
        bounds = self._bounds(lines, header)
        if bounds:
            del lines[bounds[0]:bounds[1]]
            self._write(lines)

    def _write(self, lines):
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = "\n".join(lines).strip("\n")
        self.path.write_text(text + "\n" if text else "")
        os.chmod(self.path, 0o600)


def aws_files():
    home = Path.home() / ".aws"
    config = os.environ.get("AWS_CONFIG_FILE") or home / "config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials"
    return AwsProfileFile(config), AwsProfileFile(credentials)


def write_profile(endpoint_url, region):
    config, credentials = aws_files()
    config.set_section(f"[profile {PROFILE}]",
                       {"region": region, "endpoint_url": endpoint_url, "output": "json"})
    credentials.set_section(f"[{PROFILE}]", {"aws_access_key_id": DUMMY_KEY,
                                             "aws_secret_access_key": DUMMY_KEY})


def profile_endpoint():
    """The endpoint the AWS profile names now (another project's `up` may have written it)."""
    return aws_files()[0].section(f"[profile {PROFILE}]").get("endpoint_url")


def remove_profile():
    config, credentials = aws_files()
    config.remove_section(f"[profile {PROFILE}]")
    credentials.remove_section(f"[{PROFILE}]")
