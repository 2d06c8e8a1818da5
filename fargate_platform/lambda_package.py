"""Lambda code packaging: the content-hash S3 key and the reproducible zip.

`code_key()` is the one function that names a function's artefact. It reads only
local files (the function's sources, the shared runtime, the pinned requirements,
the CA bundle) and the target, so `sceptre generate` computes it without network.
The `!lambda_code_key` resolver gives it to templates; the `!upload_lambda_code`
hook builds the zip with `build_zip()` and uploads it under the same key when the
bucket does not have it yet: a code change gives a new key (the function is
updated), an unchanged relaunch changes nothing.

A zip has `fargate_platform/` at its root (`__init__.py`, `names.py`,
`lambdas/__init__.py`, `lambdas/shared/` (both functions' log, AWS client, SecureString
helpers and custom-resource runtime), the function's folder and,
when configured, `lambdas/<function>/ca-bundle.pem`) plus the function's pip
dependencies, installed as wheels for the target:
- `python3.12`: the AWS Lambda platform (manylinux2014_x86_64, CPython 3.12);
- `local`: the running interpreter, so the local platform runs the zip with it.
Entries are sorted and carry a fixed timestamp and mode: same input, same bytes.
Downloads and installed dependencies are cached under `<project>/.cache/`.
"""
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fargate_platform.errors import PlatformError

# Bump when the zip's layout or the build changes: every key changes with it.
PACKAGING_VERSION = "1"
TARGETS = ("python3.12", "local")
LAMBDA_PLATFORM_PIP_OPTIONS = {
    "python3.12": [
        "--platform", "manylinux2014_x86_64",
        "--implementation", "cp",
        "--python-version", "3.12",
        "--only-binary=:all:",
    ],
}
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say
CA_BUNDLE_FILE = "ca-bundle.pem"
ARGUMENT_KEYS = ("function", "target", "ca_bundle")
_FUNCTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PINNED_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+")
SHARED_FOLDER = "shared"  # lambdas/shared/: what every function's zip carries


class PackagingError(PlatformError, ValueError):
    """A function cannot be named or packaged; the message says which and why."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function to package: name, target and optional CA bundle file."""

    function: str
    target: str
    ca_bundle: Path = None

    @classmethod
    def from_argument(cls, argument, where, project_root=None):
        """A FunctionSpec from a tag's argument mapping {function, target[, ca_bundle]};
        a relative ca_bundle is relative to the project folder."""
        if not isinstance(argument, dict):
            raise PackagingError(f"{where}: expected a mapping with {', '.join(ARGUMENT_KEYS)}, got {argument!r}")
        unknown = sorted(set(argument) - set(ARGUMENT_KEYS))
        if unknown:
            raise PackagingError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; accepted: {', '.join(ARGUMENT_KEYS)}")
        for key in ("function", "target"):
            if not argument.get(key):
                raise PackagingError(f"{where}: '{key}' is required")
        ca_bundle = argument.get("ca_bundle")
        if ca_bundle is not None:
            if not isinstance(ca_bundle, str) or not ca_bundle:
                raise PackagingError(f"{where}: 'ca_bundle' must be a file path, got {ca_bundle!r}")
            ca_bundle = Path(ca_bundle)
            if not ca_bundle.is_absolute():
                ca_bundle = Path(project_root or os.getcwd()) / ca_bundle
        return cls(function=str(argument["function"]), target=str(argument["target"]), ca_bundle=ca_bundle)


@dataclass(frozen=True)
class LambdaSource:
    """Everything a function's zip is made from, read from disk."""

    spec: FunctionSpec
    files: tuple  # ((archive name, bytes), ...) sorted by name
    requirements: tuple  # pinned 'name==version' lines
    ca_bundle: bytes = None

    @property
    def archive_folder(self):
        return f"fargate_platform/lambdas/{self.spec.function}"


@dataclass(frozen=True)
class BuiltZip:
    key: str
    data: bytes

    @property
    def size(self):
        return len(self.data)

    def write(self, path):
        Path(path).write_bytes(self.data)
        return Path(path)


# -- reading the sources -------------------------------------------------------------------


def lambdas_folder():
    """The folder of the `fargate_platform.lambdas` package (the project's lambdas/)."""
    import fargate_platform.lambdas

    return Path(fargate_platform.lambdas.__file__).parent


def _core_folder():
    import fargate_platform

    return Path(fargate_platform.__file__).parent


def available_functions():
    return sorted(
        path.parent.name for path in lambdas_folder().glob("*/handler.py") if _FUNCTION_NAME.fullmatch(path.parent.name)
    )


def read_source(spec):
    """The LambdaSource of a spec; clear errors for an unknown function or target, an
    unpinned requirement, or a missing CA bundle."""
    if not _FUNCTION_NAME.fullmatch(spec.function) or not (lambdas_folder() / spec.function / "handler.py").is_file():
        raise PackagingError(
            f"unknown Lambda function {spec.function!r}: expected one of {', '.join(available_functions())} "
            f"(a folder with handler.py under {lambdas_folder()})"
        )
    if spec.target not in TARGETS:
        raise PackagingError(f"unknown Lambda target {spec.target!r} for {spec.function}: use one of {', '.join(TARGETS)}")
    function_folder = lambdas_folder() / spec.function
    files = {
        "fargate_platform/__init__.py": _core_folder() / "__init__.py",
        "fargate_platform/names.py": _core_folder() / "names.py",
        "fargate_platform/errors.py": _core_folder() / "errors.py",
    }
    files["fargate_platform/lambdas/__init__.py"] = lambdas_folder() / "__init__.py"
    for path in (lambdas_folder() / SHARED_FOLDER).glob("*.py"):
        files[f"fargate_platform/lambdas/{SHARED_FOLDER}/{path.name}"] = path
    for path in function_folder.rglob("*.py"):
        if "__pycache__" not in path.parts:
            files[f"fargate_platform/lambdas/{spec.function}/{path.relative_to(function_folder).as_posix()}"] = path
    ca_bytes = None
    if spec.ca_bundle is not None:
        try:
            ca_bytes = Path(spec.ca_bundle).read_bytes()
        except OSError as error:
            raise PackagingError(
                f"CA bundle for {spec.function} not found or unreadable: {spec.ca_bundle} ({error.strerror}). "
                "For dev/prod download the RDS CA bundle to the path the environment's config.yaml names "
                "(database.ca_bundle); for local, start the local platform first (its PostgreSQL makes the CA)"
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in ca_bytes:
            raise PackagingError(f"CA bundle for {spec.function} is not a PEM certificate bundle: {spec.ca_bundle}")
    return LambdaSource(
        spec=spec,
        files=tuple(sorted((name, path.read_bytes()) for name, path in files.items())),
        requirements=read_requirements(function_folder / "requirements.txt"),
        ca_bundle=ca_bytes,
    )


def read_requirements(path):
    if not path.exists():
        return ()
    pinned = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not _PINNED_REQUIREMENT.fullmatch(line):
            raise PackagingError(
                f"{path}:{number}: {line!r} is not pinned as name==version (the code key assumes "
                "pinned dependencies)"
            )
        pinned.append(line)
    return tuple(sorted(pinned, key=str.lower))


# -- the key -----------------------------------------------------------------------------------


def target_tag(target):
    """What the dependencies are built for: the AWS runtime, or this interpreter."""
    if target == "local":
        return f"local-cp{sys.version_info.major}{sys.version_info.minor}-{sysconfig.get_platform()}"
    return target


def source_digest(source):
    digest = hashlib.sha256()

    def add(label, data):
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("packaging-version", PACKAGING_VERSION.encode())
    add("target", target_tag(source.spec.target).encode())
    for name, data in source.files:
        add(f"file:{name}", data)
    add("requirements", "\n".join(source.requirements).encode())
    add("ca-bundle", source.ca_bundle if source.ca_bundle is not None else b"<none>")
    return digest.hexdigest()


def code_key(function, target=None, ca_bundle=None):
    """THE S3 key of a function's zip: `lambda/<function>/<target tag>/<content hash>.zip`.

    Computed offline from the files the zip is built from. `function` is a name (with
    target and ca_bundle), a FunctionSpec, or an already read LambdaSource.
    """
    if isinstance(function, LambdaSource):
        source = function
    elif isinstance(function, FunctionSpec):
        source = read_source(function)
    else:
        source = read_source(FunctionSpec(function, target, Path(ca_bundle) if ca_bundle else None))
    return f"lambda/{source.spec.function}/{target_tag(source.spec.target)}/{source_digest(source)[:40]}.zip"


# -- the build -------------------------------------------------------------------------------------


def pip_command(target, requirements_file, destination, cache_dir, python=None):
    """The pip command installing a function's pinned dependencies into `destination`."""
    command = [
        python or sys.executable, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--quiet",
        "--no-compile",  # .pyc files are interpreter-specific and would make the bytes vary
        "--no-deps",  # every dependency is listed and pinned in requirements.txt
        "--only-binary=:all:",
        "--cache-dir", str(cache_dir),
        "--target", str(destination),
        "-r", str(requirements_file),
    ]
    if target != "local":
        command += LAMBDA_PLATFORM_PIP_OPTIONS[target]
    return command


class ZipBuilder:
    """Builds zips for one project folder, reusing installed dependencies from its cache."""

    def __init__(self, cache_dir=None, project_root=None):
        root = Path(project_root or os.getcwd())
        self.cache_dir = Path(cache_dir) if cache_dir else root / ".cache"

    def build(self, spec):
        source = read_source(spec)
        entries = dict(source.files)
        if source.ca_bundle is not None:
            entries[f"{source.archive_folder}/{CA_BUNDLE_FILE}"] = source.ca_bundle
        if source.requirements:
            for name, data in self._dependency_files(source):
                if name.startswith("fargate_platform/"):
                    raise PackagingError(f"dependency file {name} of {spec.function} would shadow the function's code")
                entries[name] = data
        return BuiltZip(key=code_key(source), data=deterministic_zip(entries))

    def _dependency_files(self, source):
        folder = self._installed_dependencies(source)
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_dir() or relative.name == ".complete" or "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue
            yield relative.as_posix(), path.read_bytes()

    def _installed_dependencies(self, source):
        """The requirements installed for the target, cached by (target, requirements)."""
        tag = target_tag(source.spec.target)
        digest = hashlib.sha256(("\n".join((PACKAGING_VERSION, tag) + source.requirements)).encode()).hexdigest()[:24]
        folder = self.cache_dir / "lambda-deps" / f"{tag}-{digest}"
        if (folder / ".complete").exists():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
        try:
            requirements = staging / "requirements.txt"
            requirements.write_text("\n".join(source.requirements) + "\n", encoding="utf-8")
            installed = staging / "site"
            command = pip_command(source.spec.target, requirements, installed, self.cache_dir / "pip")
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                raise PackagingError(f"pip timed out fetching the dependencies of {source.spec.function}") from None
            if result.returncode != 0:
                raise PackagingError(
                    f"pip could not install the dependencies of {source.spec.function} for {tag} "
                    f"({', '.join(source.requirements)}):\n{(result.stderr or result.stdout).strip()[-2000:]}"
                )
            (installed / ".complete").write_text("\n".join(source.requirements) + "\n", encoding="utf-8")
            try:
                os.rename(installed, folder)
            except OSError:
                if not (folder / ".complete").exists():  # not a concurrent build that won
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder


def build_zip(function, target, ca_bundle=None, cache_dir=None, project_root=None):
    """Build one function's zip; returns BuiltZip(key, data)."""
    spec = function if isinstance(function, FunctionSpec) else FunctionSpec(function, target, Path(ca_bundle) if ca_bundle else None)
    return ZipBuilder(cache_dir=cache_dir, project_root=project_root).build(spec)


def deterministic_zip(entries):
    """Zip bytes of {archive name: bytes}: sorted names, fixed time, fixed modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is honoured when extracted
            shared_library = name.endswith(".so") or ".so." in name.rsplit("/", 1)[-1]
            info.external_attr = (stat.S_IFREG | (0o755 if shared_library else 0o644)) << 16
            archive.writestr(info, entries[name], compresslevel=6)  # 9 is 4x slower for 0.5% smaller
    return buffer.getvalue()
