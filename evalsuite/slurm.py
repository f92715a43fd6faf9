"""``--executor slurm``: Dask workers as Slurm batch jobs, through dask-jobqueue (optional extra:
``pip install 'evalsuite[slurm]'``).

This process (on a login node) runs the Dask scheduler; ``--slurm-jobs`` batch jobs each run
``--slurm-cores`` single-threaded worker processes, which connect back to it. The run is then
the ``dask`` executor's: the store, resume and blame logic are the same. Compute nodes need
evalsuite installed (the same version), the data location at the same path, and the run folder
on a shared file system (or ``--ship-audio``). See docs/runner.md, "Scale-out".
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

#: jobs that sbatch accepted but that have no Slurm job id this long after scaling mean the
#: submission failed (dask-jobqueue only logs that)
SUBMIT_TIMEOUT_S = 120.0
MISSING_JOBQUEUE = "--executor slurm needs dask-jobqueue: pip install 'evalsuite[slurm]'"


@dataclass(frozen=True)
class SlurmConfig:
    partition: str | None = None  # sbatch -p
    account: str | None = None  # sbatch -A
    jobs: int = 1  # batch jobs
    cores: int = 4  # cores per job = single-threaded worker processes per job
    memory: str = "16GB"  # per job
    walltime: str = "01:00:00"  # per job
    extra: tuple[str, ...] = ()  # further #SBATCH options, e.g. --qos=short
    prologue: tuple[str, ...] = ()  # shell lines before the workers start, e.g. module load python
    interface: str | None = None  # network interface the scheduler and workers use (e.g. ib0)
    python: str | None = None  # the Python of the compute nodes (default: this one)
    log_dir: str | None = None  # where Slurm writes the jobs' output (default: the current folder)

    @property
    def workers(self) -> int:
        return self.jobs * self.cores

    def validate(self, submit: bool = True) -> None:
        """Settings and what this machine needs (``submit``: sbatch too), before any work."""
        from .executors import ExecutorError

        if self.jobs < 1 or self.cores < 1:
            raise ExecutorError(f"--slurm-jobs and --slurm-cores must be at least 1, got {self.jobs} and {self.cores}")
        try:
            import dask_jobqueue  # noqa: F401
        except ImportError:
            raise ExecutorError(MISSING_JOBQUEUE) from None
        if submit and shutil.which("sbatch") is None:
            raise ExecutorError("--executor slurm needs Slurm's sbatch on PATH: run evalsuite on a login node of the "
                                "cluster (or use --shard I/N, see docs/runner.md)")

    def describe(self) -> dict:
        return asdict(self)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--slurm-*`` options of ``evalsuite run``."""
    g = p.add_argument_group("Slurm (--executor slurm; needs `pip install 'evalsuite[slurm]'`)")
    g.add_argument("--slurm-partition", metavar="NAME", help="partition (queue) of the worker jobs (sbatch -p)")
    g.add_argument("--slurm-account", metavar="NAME", help="account charged (sbatch -A)")
    g.add_argument("--slurm-jobs", type=int, default=1, metavar="N", help="worker jobs to submit (default 1)")
    g.add_argument("--slurm-cores", type=int, default=4, metavar="N",
                   help="cores per job; each runs one single-threaded worker process (default 4)")
    g.add_argument("--slurm-memory", default="16GB", metavar="SIZE", help="memory per job (default 16GB)")
    g.add_argument("--slurm-walltime", default="01:00:00", metavar="HH:MM:SS", help="time limit per job (default 1 h)")
    g.add_argument("--slurm-extra", action="append", default=[], metavar="OPTION",
                   help="another #SBATCH option, repeatable (e.g. --slurm-extra=--qos=short)")
    g.add_argument("--slurm-prologue", action="append", default=[], metavar="LINE",
                   help="a shell line run before the workers start, repeatable (e.g. 'module load python')")
    g.add_argument("--slurm-interface", metavar="IFACE",
                   help="network interface the workers reach this machine on (e.g. ib0; default: the host's address)")
    g.add_argument("--slurm-python", metavar="PATH", help="Python on the compute nodes (default: this one)")
    g.add_argument("--slurm-log-dir", metavar="DIR", help="folder for the jobs' Slurm output (default: current folder)")


def config_from_args(args) -> SlurmConfig | None:
    if getattr(args, "executor", None) != "slurm":
        return None
    return SlurmConfig(partition=args.slurm_partition, account=args.slurm_account, jobs=args.slurm_jobs,
                       cores=args.slurm_cores, memory=args.slurm_memory, walltime=args.slurm_walltime,
                       extra=tuple(args.slurm_extra), prologue=tuple(args.slurm_prologue),
                       interface=args.slurm_interface, python=args.slurm_python, log_dir=args.slurm_log_dir)


def make_cluster(cfg: SlurmConfig, threads: int = 1):
    """A dask-jobqueue SLURMCluster for ``cfg`` (its scheduler starts here; nothing is submitted)."""
    from .executors import ExecutorError, dask_settings
    from .worker import thread_env

    cfg.validate(submit=False)
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ExecutorError(MISSING_JOBQUEUE) from None
    settings = dask_settings(threads)
    # the workers start on other machines: they get the same settings through their environment
    # (threads before numpy loads; the Dask settings as a serialized config dask reads at import)
    prologue = [f"export {k}={v}" for k, v in thread_env(threads).items()]
    prologue.append(f"export DASK_INTERNAL_INHERIT_CONFIG={dask.config.serialize(_nested(settings))}")
    prologue += list(cfg.prologue)
    with dask.config.set(settings):  # for the scheduler started in this process
        return SLURMCluster(
            queue=cfg.partition, account=cfg.account, cores=cfg.cores, processes=cfg.cores, memory=cfg.memory,
            walltime=cfg.walltime, job_name="evalsuite", job_extra_directives=list(cfg.extra),
            job_script_prologue=prologue, interface=cfg.interface, python=cfg.python or sys.executable,
            log_directory=cfg.log_dir, scheduler_options={"dashboard_address": None})


@contextlib.contextmanager
def slurm_client(cfg: SlurmConfig, threads: int = 1) -> Iterator[tuple[object, int]]:
    """(Dask client, worker processes requested) of a SLURMCluster whose jobs were accepted; the
    jobs are cancelled when the context ends."""
    from distributed import Client

    cfg.validate()
    cluster = make_cluster(cfg, threads)
    try:
        _test_submit(cluster)
        cluster.scale(jobs=cfg.jobs)
        _wait_submitted(cluster, cfg.jobs)
        client = Client(cluster)
        try:
            yield client, cfg.workers
        finally:
            client.close()
    finally:
        cluster.close()


def _test_submit(cluster) -> None:
    """``sbatch --test-only`` the worker job: a refused partition, account, size or time limit is
    a one-line error now instead of workers that never come."""
    from .executors import ExecutorError

    with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
        f.write(cluster.job_script())
        f.flush()
        p = subprocess.run(["sbatch", "--test-only", f.name], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        why = (p.stderr.strip() or p.stdout.strip() or f"exit status {p.returncode}").splitlines()[-1]
        raise ExecutorError(f"Slurm refuses the worker job ({why}); check --slurm-partition, --slurm-account, "
                            "--slurm-memory, --slurm-walltime and --slurm-extra")


def _wait_submitted(cluster, jobs: int) -> None:
    from .executors import ExecutorError

    deadline = time.monotonic() + SUBMIT_TIMEOUT_S
    while time.monotonic() < deadline:
        ids = [getattr(j, "job_id", None) for j in list(cluster.workers.values())]
        if len(ids) >= jobs and all(ids):
            return
        time.sleep(0.2)
    raise ExecutorError(f"sbatch did not submit the {jobs} worker job(s) within {SUBMIT_TIMEOUT_S:.0f} s "
                        "(its error is in the log above)")


def _nested(flat: dict) -> dict:
    """{'a.b.c': v} -> {'a': {'b': {'c': v}}}."""
    out: dict = {}
    for key, v in flat.items():
        d = out
        *parents, leaf = key.split(".")
        for k in parents:
            d = d.setdefault(k, {})
        d[leaf] = v
    return out
