"""A real one-node SLURM cluster on this machine, in a folder of its own, for the tests.

Given Debian's `slurm-wlm` and `munge` (which `make test` installs when it runs as root on
Debian; it installs nothing itself), `LocalSlurm` writes a key, a `slurm.conf` and every state,
spool, pid and log file into its folder, starts `munged`, `slurmctld` and `slurmd` as root on
ports nobody else uses, waits until `sinfo` shows the node idle, and on the way out stops the
three daemons and leaves nothing running, even when the test failed. Nothing under /etc, /run or
/var is touched: the daemons and every client command (`sbatch`, `squeue`, `scontrol`) find the
cluster through the `SLURM_CONF` variable that `environment()` returns.

There is no accounting (no slurmdbd, so no `sacct`): Snakemake's SLURM executor must then ask
`squeue` (`slurm-status-command: squeue`), and `MinJobAge` keeps finished jobs in `squeue` long
enough for it to see them end.

By hand, as root:  python tests/slurm_cluster.py /tmp/my-slurm   (Ctrl-C stops it)
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

DAEMONS = ("munged", "slurmctld", "slurmd")
PARTITION = "imgbench"
MIN_JOB_AGE = 600  # seconds a finished job stays in squeue: longer than any status poll's gap
START_SECONDS = 60.0


def missing() -> str | None:
    """Why a local cluster cannot start here (None when it can)."""
    if os.geteuid() != 0:
        return "a local SLURM runs its daemons as root, and this is not root"
    absent = [name for name in (*DAEMONS, "sinfo", "sbatch", "squeue") if not shutil.which(name)]
    if absent:
        return (
            f"{', '.join(absent)} not installed: apt-get install slurm-wlm munge (make test does "
            "it when it runs as root on Debian)"
        )
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def node_line() -> str:
    """This machine as `slurmd -C` sees it (NodeName, CPUs, sockets, cores, RealMemory), with
    the memory rounded down a little so that slurmd never finds less than configured."""
    line = subprocess.run(
        ["slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    memory = int(re.search(r"RealMemory=(\d+)", line)[1])
    return re.sub(r"RealMemory=\d+", f"RealMemory={memory * 9 // 10}", line)


class LocalSlurm:
    """munged, slurmctld and slurmd, all in `folder`, for as long as the `with` block lasts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.conf = self.folder / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def environment(self) -> dict[str, str]:
        """The environment in which SLURM's commands reach this cluster: `SLURM_CONF`, and
        `bin/` first on the PATH (see `write_srun`)."""
        path = f"{self.folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return dict(os.environ, SLURM_CONF=str(self.conf), PATH=path)

    def write_srun(self) -> None:
        """`bin/srun`: the real srun, given `SLURM_CONF` again. Inside a job, Snakemake's
        slurm-jobstep executor (0.6.1) starts each rule with `srun` in an environment stripped
        of every SLURM_ variable but the job's ids, SLURM_CONF included; a real cluster keeps
        its slurm.conf in /etc/slurm, where srun looks without being told, but this one must
        leave /etc alone."""
        srun = self.folder / "bin/srun"
        srun.parent.mkdir(exist_ok=True)
        real = shutil.which("srun")
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real}" "$@"\n')
        srun.chmod(0o755)

    def write_conf(self) -> None:
        folder = self.folder
        for sub in ("state", "spool", "munge"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "munge").chmod(0o700)
        key = folder / "munge/munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        node = node_line()
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=imgbench-test",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={free_port()}",
                    f"SlurmdPort={free_port()}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={folder / 'munge/munge.socket'}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"StateSaveLocation={folder / 'state'}",
                    f"SlurmdSpoolDir={folder / 'spool'}",
                    f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                    f"SlurmdPidFile={folder / 'slurmd.pid'}",
                    f"SlurmctldLogFile={folder / 'slurmctld.log'}",
                    f"SlurmdLogFile={folder / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    f"MinJobAge={MIN_JOB_AGE}",
                    "SchedulerType=sched/builtin",
                    f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
                    f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def start(self) -> None:
        self.write_conf()
        self.write_srun()
        munge = self.folder / "munge"
        self._start(
            "munged",
            [
                "munged",
                "--foreground",
                # A test's folder sits in a private one (pytest's), which munged would refuse
                # for its socket: --force turns that refusal into a warning.
                "--force",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={munge / 'munge.key'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'munged.seed'}",
                f"--log-file={self.folder / 'munged.log'}",
            ],
        )
        self._wait(lambda: (munge / "munge.socket").exists(), "munged's socket")
        self._start("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._start("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(self.idle, f"sinfo to show {self.node} idle")

    def idle(self) -> bool:
        shown = subprocess.run(
            ["sinfo", "--noheader", "--format=%t", "--nodes", self.node],
            capture_output=True,
            text=True,
            env=self.environment(),
        )
        return shown.returncode == 0 and shown.stdout.strip() == "idle"

    def _start(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.out").open("wb")
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.environment()
        )

    def _wait(self, ready: object, what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not ready():  # type: ignore[operator]
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} after {START_SECONDS:.0f} s:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        """The daemons' logs, for an error message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("*.out"))
        )

    def stop(self) -> None:
        """Stop the daemons, the jobs' steps first (slurmd before slurmctld, munged last)."""
        for name in reversed(DAEMONS):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # slurmstepd processes of jobs still running outlive slurmd: end them too.
        subprocess.run(["pkill", "-f", f"slurmstepd.*{self.folder}"], check=False)

    def __enter__(self) -> LocalSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    if why := missing():
        sys.exit(why)
    with LocalSlurm(Path(sys.argv[1])) as cluster:
        print(f"SLURM is up: export SLURM_CONF={cluster.conf}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
