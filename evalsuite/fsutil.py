"""Files the run reads back: written atomically (short temp name, fsync, rename) and verified by
their sha256, and resource failures (disk full, read-only, no permission) told apart from codec
or metric failures."""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
from pathlib import Path

#: errno values that mean "the machine cannot store this", never "the codec failed"
RESOURCE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG,
                   errno.EMFILE, errno.ENFILE, errno.EIO, errno.ENOTDIR, errno.ENAMETOOLONG}


class ResourceError(OSError):
    """Storage failed (disk full, read-only, no permission): the run stops with this message,
    keeps what is finished and resumes cleanly once the cause is fixed."""


def is_resource_error(e: BaseException) -> bool:
    return isinstance(e, ResourceError) or (isinstance(e, OSError) and e.errno in RESOURCE_ERRNOS)


def resource_message(e: OSError, what: str) -> str:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
              errno.EPERM: "operation not permitted", errno.ENOTDIR: "a path component is a file, not a folder",
              errno.ENAMETOOLONG: "the file name is too long"}.get(e.errno or 0, e.strerror or str(e))
    where = f" ({e.filename})" if getattr(e, "filename", None) else ""
    return f"cannot write {what}: {reason}{where}"


def atomic_write_bytes(path: Path, data: bytes, what: str = "") -> str:
    """Write ``data`` under ``path`` atomically and durably; return its sha256.

    The temp name is short and random (a long final name must not make it too long), lives in
    the same folder (rename is atomic there) and is removed on failure. A storage failure is a
    ResourceError naming the file."""
    path = Path(path)
    tmp = path.parent / f".tmp-{secrets.token_hex(6)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if e.errno in RESOURCE_ERRNOS:
            raise ResourceError(e.errno, resource_message(e, what or str(path)), str(path)) from e
        raise
    return hashlib.sha256(data).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_verified(path: Path, sha256: str) -> bytes | None:
    """The file's bytes if they hash to ``sha256``; None if missing, truncated or changed."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def clean_temp_files(folder: Path) -> None:
    """Remove temp files a killed process left behind."""
    for p in Path(folder).rglob(".tmp-*"):
        try:
            p.unlink()
        except OSError:
            pass
