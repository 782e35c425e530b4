"""Runs a SageMaker job's image as a local command, with /opt/ml mapped to a per-job directory.

Image -> command: the fault endpoint's ``sagemaker_images`` (run time), then
``RECOFLOW_SAGEMAKER_IMAGES`` (start-up), each a JSON object ``{"<image uri or glob>": <command>}``
where a command is a list of argv strings (or one string, split like a shell would). The first
pattern matching the image (fnmatch, in the object's order) wins. Without a match every image runs
the reference container binary ``RECOFLOW_RECSYS_BIN`` (default ``<repo>/target/local/recsys``,
repo = ``RECOFLOW_REPO_ROOT``, else the working directory LocalStack was started from, else the
repository whose ``.localstack-host/venv`` runs LocalStack).

The job directory holds the container's ``/opt/ml`` (``opt_ml/``). Where the machine allows it
the command sees that directory at ``/opt/ml`` itself (``sandbox.py``); elsewhere it is told the
directory's host path (``RECSYS_OPT_ML``, ``SM_*`` variables, container arguments that start with
``/opt/ml``), and whatever it reports back (failure files, log lines) is shown with ``/opt/ml``
in place of that host path.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

OPT_ML = "/opt/ml"
# the reference container (containers/recsys) reads /opt/ml from here when set
OPT_ML_VARIABLE = "RECSYS_OPT_ML"


class ImageNotRunnable(Exception):
    pass


def repo_root() -> Path:
    return Path(os.environ.get("RECOFLOW_REPO_ROOT") or os.getcwd())


def default_command() -> list[str]:
    if os.environ.get("RECOFLOW_RECSYS_BIN"):
        return [os.environ["RECOFLOW_RECSYS_BIN"]]
    candidates = [repo_root() / "target" / "local" / "recsys"]
    # host mode keeps its virtualenv in <repo>/.localstack-host/venv
    candidates.append(Path(sys.prefix).resolve().parents[1] / "target" / "local" / "recsys")
    for candidate in candidates:
        if candidate.is_file():
            return [str(candidate)]
    return [str(candidates[0])]


def image_command(image: str) -> list[str]:
    from recoflow_localstack import faults

    mapping = faults.sagemaker_images()
    raw = os.environ.get("RECOFLOW_SAGEMAKER_IMAGES")
    if raw:
        try:
            for pattern, command in json.loads(raw).items():
                mapping.setdefault(pattern, command)
        except (ValueError, AttributeError) as e:
            raise ImageNotRunnable(f"RECOFLOW_SAGEMAKER_IMAGES is not a JSON object: {e}")
    if mapping:
        for pattern, command in mapping.items():
            if pattern == image or fnmatch.fnmatchcase(image, pattern):
                argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
                if not argv:
                    raise ImageNotRunnable(f"empty command configured for image pattern {pattern!r}")
                return argv
    return default_command()


def check_runnable(argv: list[str]) -> None:
    exe = argv[0]
    if os.sep in exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise ImageNotRunnable(f"{exe} does not exist or is not executable")
    else:
        from shutil import which

        if which(exe) is None:
            raise ImageNotRunnable(f"{exe} is not on PATH")


def job_dir(kind: str, name: str) -> Path:
    base = os.environ.get("RECOFLOW_SAGEMAKER_WORKDIR")
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{name}-", dir=base or None))


class LocalPaths:
    """Maps container paths into the job directory: /opt/ml/... -> <job>/opt_ml/..., any other
    absolute path -> <job>/root/<path>. ``mounted``: the command sees <job>/opt_ml at /opt/ml."""

    def __init__(self, root: Path, mounted: bool):
        self.root = root
        self.opt_ml = root / "opt_ml"
        self.mounted = mounted
        # the host spellings of opt_ml, longest first (the job dir may be reached through a link)
        self._host_spellings = sorted({str(self.opt_ml), os.path.realpath(self.opt_ml)}, key=len, reverse=True)

    def local(self, container_path: str) -> Path:
        """Where the emulator reads and writes a container path."""
        p = container_path.rstrip("/") or "/"
        if p == OPT_ML or p.startswith(OPT_ML + "/"):
            return self.opt_ml / p[len(OPT_ML) :].lstrip("/")
        return self.root / "root" / p.lstrip("/")

    def given(self, container_path: str) -> str:
        """What the command is told a container path is."""
        return container_path if self.mounted else str(self.local(container_path))

    def rewrite_arg(self, arg: str) -> str:
        if arg == OPT_ML or arg.startswith(OPT_ML + "/"):
            return self.given(arg)
        return arg

    def as_container_text(self, text: str) -> str:
        """``text`` from or about the job with its host paths shown as the container's:
        <job>/opt_ml/input/data/x.csv -> /opt/ml/input/data/x.csv."""
        for host in self._host_spellings:
            text = text.replace(host, OPT_ML)
        return text


class Process:
    """A started job command whose whole process group can be stopped."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        # the command's own output starts here (the emulator may have written notes before it)
        self._output_start = self._log.tell()
        # localstack/host/stop.sh stops what is listed in this dir, should LocalStack die without
        # stopping its jobs; the variable in the job's environment proves a pid is one of ours.
        pid_dir = os.environ.get("RECOFLOW_JOB_PID_DIR")
        if pid_dir:
            env = dict(env, RECOFLOW_JOB_PID_DIR=pid_dir)
        self.popen = subprocess.Popen(
            argv, env=env, cwd=str(cwd), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._pid_file = Path(pid_dir) / str(self.popen.pid) if pid_dir else None
        if self._pid_file:
            self._pid_file.parent.mkdir(parents=True, exist_ok=True)
            self._pid_file.touch()

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float) -> int:
        """SIGTERM to the group, SIGKILL after ``grace`` seconds (SageMaker: 120 s)."""
        self._signal(signal.SIGTERM)
        rc = self.wait(grace)
        if rc is None:
            self._signal(signal.SIGKILL)
            rc = self.popen.wait()
        return rc

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        self._log.close()
        if self._pid_file:
            self._pid_file.unlink(missing_ok=True)

    def tail(self, max_chars: int = 700) -> str:
        """The end of the command's output."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._output_start)
                text = log.read().decode(errors="replace").strip()
        except OSError:
            return ""
        return text[-max_chars:]
