"""Gives a SageMaker job's command what a container gets: ``/opt/ml`` itself and, with network
isolation, no network.

A job runs its image as a host command (there is no Docker here). Where the machine allows it,
the command starts in namespaces of its own (util-linux ``unshare``; as root, or as any other
user through a user namespace that maps the user to root):

- a mount namespace, in which the job directory's ``opt_ml`` is bind-mounted at ``/opt/ml``.
  Where the machine has no ``/opt/ml``, ``/opt`` is first overlaid (the machine's ``/opt`` as the
  read-only lower layer, the upper layer in the job directory) so that the mount point can be
  made without touching the machine's ``/opt``. Nothing changes outside the namespace.
- with network isolation, a network namespace with only a loopback interface of its own, as a
  container started without a network has: nothing outside the job is reachable, LocalStack
  included. The job's inputs and outputs are local files, moved to and from S3 by the emulator
  outside the namespace, as SageMaker moves them outside the container.

What the machine allows is probed once, by the same means a job uses (``support()``). Where it
allows no mount namespace, the command is told the job directory's host path instead
(``LocalPaths``), and the emulator shows that path as ``/opt/ml`` in FailureReason and logs.
Where it allows no network namespace, network isolation is recorded but not enforced, and the
job's log says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)


# Runs inside the new namespaces, then becomes the job's command: $1 the job's opt_ml directory,
# $2/$3 the overlay's upper and work directories for /opt, $4 "1" for a network of its own.
_SETUP = r"""set -e
opt_ml=$1 opt_upper=$2 opt_work=$3 own_network=$4
shift 4
if [ ! -d /opt/ml ]; then
  mount -t overlay recoflow-opt -o "lowerdir=/opt,upperdir=$opt_upper,workdir=$opt_work" /opt
  mkdir -p /opt/ml
fi
mount --bind "$opt_ml" /opt/ml
if [ "$own_network" = 1 ] && command -v ip >/dev/null 2>&1; then ip link set lo up; fi
cd /opt/ml
exec "$@"
"""


@dataclass(frozen=True)
class Support:
    """What this machine lets a job's command have."""

    opt_ml: bool  # a mount namespace with the job directory at /opt/ml
    network_isolation: bool  # and a network namespace of its own
    problem: str = ""  # why not, where either is missing

    def describe(self) -> str:
        if self.opt_ml and self.network_isolation:
            return "SageMaker jobs run with their directory at /opt/ml, and without network when isolated"
        if self.opt_ml:
            return f"SageMaker jobs run with their directory at /opt/ml; network isolation is not enforced ({self.problem})"
        return (f"SageMaker jobs are given their directory's host path, shown as /opt/ml, and network isolation is "
                f"not enforced ({self.problem})")


class JobSandbox:
    """How one job's command is started."""

    def __init__(self, root: Path, isolate_network: bool, machine: Support | None = None):
        machine = machine or support()
        self.root = root
        self.opt_ml = root / "opt_ml"
        self.mounts_opt_ml = machine.opt_ml
        self.isolate_network = isolate_network
        self.isolates_network = isolate_network and machine.network_isolation
        self._problem = machine.problem
        self._upper = root / "sandbox" / "opt-upper"
        self._work = root / "sandbox" / "opt-work"

    def command(self, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` in the job's namespaces (``argv`` itself where the
        machine allows none)."""
        if not self.mounts_opt_ml:
            return list(argv)
        self.opt_ml.mkdir(parents=True, exist_ok=True)
        self._upper.mkdir(parents=True, exist_ok=True)
        self._work.mkdir(parents=True, exist_ok=True)
        flags = ["--mount", "--propagation", "private"]
        if self.isolates_network:
            flags.append("--net")
        if os.geteuid() != 0:
            flags += ["--user", "--map-root-user"]
        own_network = "1" if self.isolates_network else "0"
        return [_unshare(), *flags, "/bin/sh", "-c", _SETUP, "recoflow-sandbox",
                str(self.opt_ml), str(self._upper), str(self._work), own_network, *argv]

    def describe(self) -> str:
        if not self.mounts_opt_ml:
            return "given its directory's host path"
        return "in mount and network namespaces of its own" if self.isolates_network else "in a mount namespace of its own"

    def log_notes(self) -> list[str]:
        """Lines for the start of the job's log: what was asked for and is not enforced here."""
        if self.isolate_network and not self.isolates_network:
            return [f"recoflow emulator: network isolation was requested, but this machine cannot give the job a "
                    f"network of its own ({self._problem}): the job runs with network access."]
        return []

    def tidy(self) -> None:
        """After the command: overlayfs leaves its work directory without permissions, which would
        keep anyone but root from deleting the job directory."""
        inner = self._work / "work"
        if inner.is_dir():
            try:
                inner.chmod(0o700)
            except OSError:
                pass


def _unshare() -> str:
    return shutil.which("unshare") or "unshare"


_lock = threading.Lock()
_support: Support | None = None


def support() -> Support:
    """What this machine allows, probed on first use (one job command's start-up, a few ms)."""
    global _support
    with _lock:
        if _support is None:
            _support = _probe()
            complete = _support.opt_ml and _support.network_isolation
            LOG.log(logging.INFO if complete else logging.WARNING, "%s", _support.describe())
        return _support


def _probe() -> Support:
    if shutil.which("unshare") is None:
        return Support(False, False, "no unshare command (util-linux) on PATH")
    base = os.environ.get("RECOFLOW_SAGEMAKER_WORKDIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="sandbox-probe-", dir=base))
    try:
        (root / "opt_ml").mkdir()
        (root / "opt_ml" / "probe").write_text("seen at /opt/ml")
        # what a job relies on: its directory at /opt/ml
        check = ["/bin/sh", "-c", "test -f /opt/ml/probe"]
        problem = _try(JobSandbox(root, True, Support(True, True)), check)
        if problem is None:
            return Support(True, True)
        network_problem = problem
        problem = _try(JobSandbox(root, False, Support(True, False)), check)
        if problem is None:
            return Support(True, False, network_problem)
        return Support(False, False, problem)
    finally:
        JobSandbox(root, False, Support(False, False)).tidy()
        shutil.rmtree(root, ignore_errors=True)


def _try(sandbox: JobSandbox, argv: list[str]) -> str | None:
    """None when ``argv`` succeeds in the sandbox, else what went wrong."""
    try:
        done = subprocess.run(sandbox.command(argv), capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
