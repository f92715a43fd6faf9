"""Codec libraries fetched into a private folder, never installed system-wide.

Debian bookworm's libopus is 1.3.1 (2019); Opus 1.5 added ML decoding (LACE/NoLACE at decoder
complexity 6/7, deep PLC). Debian trixie's ``libopus0`` 1.5.2 is built with them and needs only
glibc >= 2.29, so ``fetch("opus-1.5")`` downloads that one package with apt (a private apt
folder with a trixie source line: the archive's signatures are checked with the system's Debian
keyring) and unpacks it with ``dpkg-deb -x`` into ``lib_root()/opus-1.5``:

    python3 -m evalsuite.codecs.private_libs opus-1.5      (scripts/setup.sh runs this)

``lib_root()`` is ``$EVALSUITE_LIBS`` or ``~/.local/share/evalsuite/libs``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EVALSUITE_LIBS"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class PrivateLib:
    package: str  # Debian binary package
    suite: str  # Debian suite to take it from
    library: str  # glob of the shared library inside the package
    version_prefix: str  # the upstream version this entry stands for


LIBS: dict[str, PrivateLib] = {
    "opus-1.5": PrivateLib("libopus0", "trixie", "usr/lib/*/libopus.so.0", "1.5"),
}


def lib_root() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".local/share/evalsuite/libs").expanduser()


def fetch_command(name: str) -> str:
    return f"python3 -m evalsuite.codecs.private_libs {name}"


def lib_file(name: str, root: Path | None = None) -> Path | None:
    """The unpacked library of entry ``name``, or None when it has not been fetched."""
    found = sorted(((root or lib_root()) / name).glob(LIBS[name].library))
    return found[0] if found else None


def fetch(name: str, root: Path | None = None) -> Path:
    """Download and unpack entry ``name``; returns the library's path. Raises RuntimeError with
    apt's own message when the package cannot be had."""
    spec = LIBS[name]
    dest = (root or lib_root()) / name
    with tempfile.TemporaryDirectory(prefix="evalsuite-apt-") as tmp:
        t = Path(tmp)
        for d in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "etc/apt.conf.d"):
            (t / d).mkdir(parents=True)
        (t / "etc/sources.list").write_text(f"deb [signed-by={KEYRING}] {MIRROR} {spec.suite} main\n")
        (t / "status").write_text("")
        opts = [f"-o=Dir::Etc::SourceList={t}/etc/sources.list", "-o=Dir::Etc::SourceParts=/dev/null",
                f"-o=Dir::Etc::Preferences={t}/etc/preferences", f"-o=Dir::Etc::PreferencesParts={t}/etc/preferences.d",
                f"-o=Dir::State::Lists={t}/lists", f"-o=Dir::Cache={t}/cache", f"-o=Dir::State::status={t}/status",
                "-o=APT::Sandbox::User=root" if os.geteuid() == 0 else "-o=Debug::NoLocking=1", "-qq"]
        _run(["apt-get", *opts, "update"], f"apt-get update for Debian {spec.suite}")
        _run(["apt-get", *opts, "download", f"{spec.package}/{spec.suite}"], f"apt-get download {spec.package}", cwd=t)
        debs = sorted(t.glob(f"{spec.package}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {spec.package} wrote no .deb")
        version = _run(["dpkg-deb", "-f", str(debs[0]), "Version"], "dpkg-deb -f").strip()
        if not version.startswith(spec.version_prefix):
            raise RuntimeError(f"Debian {spec.suite} has {spec.package} {version}, not {spec.version_prefix}.x")
        if dest.exists():
            subprocess.run(["rm", "-rf", str(dest)], check=True)
        dest.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(debs[0]), str(dest)], "dpkg-deb -x")
        sha = hashlib.sha256(debs[0].read_bytes()).hexdigest()
        (dest / "SOURCE.txt").write_text(
            f"{debs[0].name}\npackage {spec.package} {version} from Debian {spec.suite} ({MIRROR})\nsha256 {sha}\n")
    path = lib_file(name, root)
    if path is None:
        raise RuntimeError(f"{debs[0].name} holds no {spec.library}")
    return path


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"{what}: {e}") from e
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-600:]}")
    return p.stdout


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(LIBS)
    for n in names:
        if n not in LIBS:
            print(f"unknown library {n!r}; known: {', '.join(LIBS)}", file=sys.stderr)
            return 2
        try:
            print(f"{n}: {fetch(n)}")
        except RuntimeError as e:
            print(f"{n}: could not fetch: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
