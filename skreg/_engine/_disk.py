"""The on-disk compilation cache: where it lives, what skreg may delete, and its repair.

A new process loads compiled programs from this cache instead of compiling them (see
:mod:`skreg._engine._loader`). Issue 17's sweep found what such a cache must never do:

- **Delete what it did not write.** The size bound deleted any file under the cache root, so
  a root that also held the user's data lost its oldest files. skreg writes into one folder
  per skreg, Keras and backend version and CPU, marks it with :data:`MARKER`, and prunes only
  folders so marked (in its own root in the user's cache directory, every ``skreg-*``
  folder, as versions before the marker left them).
- **Serve another code's program.** TensorFlow finds an XLA entry by the compiled function's
  name and argument shapes, not by its content, so an entry written by an earlier skreg of
  the same version number (an install from the repository) was loaded for a program that
  had changed, and the fit failed reading the weights it returned ("cannot reshape array of
  size 0 into shape (4,3)"). The folder's name holds a fingerprint of skreg's code
  (:func:`_code_fingerprint`), so changed code never meets an old entry.
- **Break a fit.** A folder that cannot be made or written switches the cache off with one
  warning (:func:`usable`). A damaged entry (a full disk, a killed process, a partial copy)
  failed every later TensorFlow fit of its network; JAX compiled again in every process and
  left it. :func:`repair_xla_entries` and :func:`repair_jax_entries` find such entries,
  delete them and warn once per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import threading
from pathlib import Path

from .. import _config, _warnings

# skreg's folders under the cache root are kept under this size together: JAX evicts least
# recently used entries of the current folder itself; everything else skreg wrote is pruned
# here, oldest first.
MAX_BYTES = 1 << 30
# The file that marks a folder as skreg's: only folders holding it are ever pruned. The
# Cache Directory Tagging Specification's name and signature, so backup tools skip it too.
MARKER = "CACHEDIR.TAG"
_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55\n"
# JAX's warning when an entry of its cache cannot be read.
JAX_READ_ERROR = "Error reading persistent compilation cache entry for '"

_LOCK = threading.Lock()
_warned = False  # a repair warns once per process
_write_warned = False  # so does a failed write (xla_write_failed)
_jax_scanned: set[str] = set()  # the folders whose JAX entries were all checked


def folder(backend: str) -> str | None:
    """This process's folder of the on-disk compilation cache, or None when it is off."""
    root = _config.get_config()["compilation_cache_dir"]
    if root is False:
        return None
    if root == "auto":
        root = _default_root()
    from .. import __version__

    packages = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib")}.get(backend, ())
    versions = [f"skreg-{__version__}", f"keras-{_version('keras')}"]
    versions += [f"{name}-{_version(name)}" for name in packages]
    return str(Path(root) / "_".join([*versions, _cpu(), _code_fingerprint()]))


def usable(cache: str | None) -> str | None:
    """``cache``, made and marked as skreg's; None (with a warning) if it cannot be written.

    The cache only saves time: a folder that cannot be created (a file in the way, a
    read-only location) or written switches it off for the process, and fits go on.
    """
    if cache is None:
        return None
    try:
        Path(cache).mkdir(parents=True, exist_ok=True)
        (Path(cache) / MARKER).write_text(
            f"{_SIGNATURE}# A folder of skreg's compilation cache: compiled programs, safe to "
            "delete.\n"
        )
    except OSError as error:
        _warnings.warn(
            f"skreg cannot write its compilation cache in {cache} ({error.strerror or error}), "
            "so this process compiles every network anew. Point compilation_cache_dir (or "
            "SKREG_COMPILATION_CACHE_DIR) at a writable folder, or set it to 'off'.",
            RuntimeWarning,
        )
        return None
    return cache


def prune(current: Path, *, bounded_by_backend: bool) -> None:
    """Delete the oldest entries of skreg's cache folders beside ``current`` (this process's
    folder) beyond the size bound; ``current`` is left alone when the backend bounds it
    itself (JAX). Nothing but skreg's marked folders is ever looked into. One process
    prunes at a time; the others skip it. A process that reads an entry being deleted finds
    it missing and compiles instead.
    """
    import filelock

    own_root = current.parent == Path(_default_root())
    try:
        folders = [
            candidate
            for candidate in current.parent.iterdir()
            if candidate.name.startswith("skreg-")
            and not candidate.is_symlink()
            and candidate.is_dir()
            and (own_root or (candidate / MARKER).is_file())
        ]
        with filelock.FileLock(current / ".prune.lock", timeout=0):
            files = [entry for candidate in folders for entry in _entries(candidate)]
            total = sum(size for _, size, _ in files)
            for _, size, entry in sorted(files, key=lambda f: f[0]):
                if total <= MAX_BYTES * 3 // 4:
                    break
                if not (bounded_by_backend and current in entry.parents):
                    entry.unlink(missing_ok=True)
                    total -= size
    except (filelock.Timeout, OSError):
        pass


def repair_xla_entries(cache: str, message: str) -> str | None:
    """Delete the entries of TensorFlow's XLA cache in ``cache`` that cannot be whole, after
    a call failed with ``message``: "removed" when it deleted every one it found, "kept"
    when one would not go (a folder in an entry's place, another user's entry), None when
    it found none.

    TensorFlow fails every later call of a function whose entry is truncated, empty or
    overwritten ("Serialized cache key does not match", "Can't parse ...", "Read less bytes
    than requested"), and names the file only for some of these. An entry is a protocol
    buffer message (``XlaSerializedCacheEntry``: the key, the HLO module, the executable);
    one whose fields do not add up to the file, or that lacks the key or the executable, is
    broken, and so is a file named in ``message``.
    """
    broken = []
    for path in Path(cache).glob("xla_compile_cache*"):
        try:
            whole = str(path) not in message and _whole_message(path.read_bytes())
        except FileNotFoundError:  # another process removed it
            continue
        except OSError:  # unreadable: TensorFlow cannot read it either
            whole = False
        if not whole:
            broken.append(path)
    if not broken:
        return None
    return "kept" if _delete(cache, broken, "XLA") else "removed"


def xla_write_failed(cache: str, message: str) -> bool:
    """Whether a call failed with ``message`` because TensorFlow could not write its XLA
    entry in ``cache`` (a full disk, a file where a folder should be). Then its partial
    files there (``*.tmp``: they would keep the disk full) are deleted and a warning says
    that this process trains without XLA from now on; TensorFlow writes an entry for every
    XLA compilation, and cannot be told to stop once started."""
    global _write_warned
    if cache not in message:
        return False
    for path in Path(cache).glob("xla_compile_cache*.tmp"):
        with contextlib.suppress(OSError):
            path.unlink()
    with _LOCK:
        warn, _write_warned = not _write_warned, True
    if warn:
        # "...xla_compile_cache...tmp; No space left on device [Op:...]": the system's words.
        reason = message.strip().splitlines()[0].split(" [Op:")[0].split("; ")[-1][-200:]
        _warnings.warn(
            f"skreg cannot write its compilation cache in {cache} ({reason}), so this process "
            "trains without XLA compilation from now on: about 1.5x slower per epoch, the same "
            "results up to float rounding. Free some space, or point compilation_cache_dir "
            "(or SKREG_COMPILATION_CACHE_DIR) at another folder, or set it to 'off'.",
            RuntimeWarning,
        )
    return True


def repair_jax_entries(cache: str, message: str) -> None:
    """Delete the entries of JAX's cache in ``cache`` that do not decompress: the first time
    in the process every entry (so the warning counts them all, and later modules compile
    once), then those of the module that ``message`` (JAX's read-error warning) names."""
    from jax._src import compilation_cache  # private: the one way to read an entry

    with _LOCK:
        first = cache not in _jax_scanned
        _jax_scanned.add(cache)
    module = "*" if first else message[len(JAX_READ_ERROR) :].split("'")[0]
    broken = []
    for path in Path(cache).glob(f"{module}-*-cache"):
        try:
            compilation_cache.decompress_executable(path.read_bytes())
        except Exception:  # zlib's or zstandard's error, whichever JAX uses
            broken.append(path)
    _delete(cache, broken, "JAX")


def _delete(cache: str, broken: list[Path], kind: str) -> list[Path]:
    """Delete the ``broken`` entries (with JAX's access-time companions); warn the first
    time in the process, of those removed and of those that would not go (returned)."""
    global _warned
    kept = []
    for path in broken:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:  # a folder, or not ours to delete
            kept.append(f"{path.name}: {error.strerror}")
            continue
        with contextlib.suppress(OSError):
            path.with_name(path.name.removesuffix("-cache") + "-atime").unlink()
    with _LOCK:
        warn, _warned = bool(broken) and not _warned, _warned or bool(broken)
    if warn:
        removed = len(broken) - len(kept)
        said = f"skreg's compilation cache in {cache} held {len(broken)} damaged {kind} entr"
        said += f"{'y' if len(broken) == 1 else 'ies'} (a full disk, a killed process or a "
        said += "partial copy leaves them)"
        if removed:
            said += f", {'which' if not kept else f'{removed} of which'} skreg removed"
        if kept:
            said += (
                f"; skreg cannot remove {len(kept)} ({'; '.join(kept[:3])}), so "
                + ("this network trains without XLA in this process (the same results up to "
                   "float rounding)" if kind == "XLA" else "it compiles the network again")
                + ". Delete them, or point compilation_cache_dir at another folder"
            )  # fmt: skip
        _warnings.warn(f"{said}; the network was compiled again.", RuntimeWarning)
    return kept


def _whole_message(data: bytes) -> bool:
    """Whether ``data`` is a sequence of protocol-buffer fields that ends at its last byte and
    holds fields 1 (the cache key) and 3 (the executable)."""
    fields, position = set(), 0
    while position < len(data):
        tag, position = _varint(data, position)
        field, wire_type = tag >> 3, tag & 7
        if field == 0 or position < 0:
            return False
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            position = -1 if position < 0 else position + length
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:  # groups (3, 4) are not used by this message; 6 and 7 do not exist
            return False
        if position < 0 or position > len(data):
            return False
        fields.add(field)
    return {1, 3} <= fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """The base-128 integer at ``position`` and the position after it (-1 if cut short)."""
    value = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7
    return 0, -1


def _default_root() -> str:
    """skreg's own folder in the user's cache directory."""
    import platformdirs

    return platformdirs.user_cache_dir("skreg", appauthor=False)


def _entries(candidate: Path) -> list[tuple[float, int, Path]]:
    """The files under ``candidate`` as (modified, size, path), leaving out links, the
    marker and dot-files (the locks)."""
    entries = []
    for directory, _, names in os.walk(candidate):
        for name in names:
            path = Path(directory) / name
            if name.startswith(".") or name == MARKER or path.is_symlink():
                continue
            status = path.stat()
            entries.append((status.st_mtime, status.st_size, path))
    return entries


def code_fingerprint(package: Path) -> str:
    """A hash of the Python sources under ``package`` (skreg's: about 60 files, read in a
    few milliseconds, once per process): the compiled programs are written by this code."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


_fingerprint: list[str] = []


def _code_fingerprint() -> str:
    if not _fingerprint:
        _fingerprint.append(code_fingerprint(Path(__file__).resolve().parent.parent))
    return _fingerprint[0]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _cpu() -> str:
    """The machine and a digest of its CPU features: compiled code uses the host's features."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    digest = hashlib.sha256(f"{platform.processor()} {flags}".encode()).hexdigest()[:8]
    return f"{platform.machine()}-{digest}"
