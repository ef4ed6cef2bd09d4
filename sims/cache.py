"""A cache of finished runs in plain files, written atomically.

Each run is stored under ``DIR/KIND/KEY.npz`` (its arrays, loaded without pickle) and
``DIR/KIND/KEY.json`` (its configuration and scalar results), where ``KEY`` is the
SHA-256 of the configuration and of the source of the ``theory`` and ``sims`` packages.
The JSON file is written last and marks the entry as complete. Both files are written to a
temporary name and renamed, so an interrupted write never leaves a partial entry.
"""

import functools
import hashlib
import json
import os
import pathlib
import tempfile

import numpy as np

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent
_HASHED_PACKAGES = ("theory", "sims")


@functools.lru_cache(maxsize=1)
def source_hash():
    """Return the SHA-256 of every ``.py`` file of the ``theory`` and ``sims`` packages."""
    digest = hashlib.sha256()
    for package in _HASHED_PACKAGES:
        for path in sorted((_PACKAGE_ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(_PACKAGE_ROOT)).encode("utf-8"))
            digest.update(path.read_bytes())
    return digest.hexdigest()


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file for its owner only; give it the permissions that
        # open() would have given under the process's umask.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path, document):
    """Write ``document`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))


class RunCache:
    """Finished runs keyed by configuration and source.

    Parameters
    ----------
    directory : str or pathlib.Path or None
        Where entries live; ``None`` disables the cache (nothing is read or written).
    """

    def __init__(self, directory):
        self.directory = None if directory is None else pathlib.Path(directory)

    @property
    def enabled(self):
        return self.directory is not None

    def key(self, kind, config):
        """Return the entry key of ``config`` (a JSON-serializable dict) under ``kind``."""
        text = json.dumps({"kind": kind, "config": config, "source": source_hash()}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _paths(self, kind, config):
        stem = self.directory / kind / self.key(kind, config)
        return stem.with_suffix(".json"), stem.with_suffix(".npz")

    def load(self, kind, config):
        """Return the stored result of ``config``, or ``None`` if there is none.

        A result is a dict of scalars, strings and lists (from the JSON file) and NumPy
        arrays (from the ``.npz`` file).
        """
        if not self.enabled:
            return None
        json_path, npz_path = self._paths(kind, config)
        if not json_path.exists() or not npz_path.exists():
            return None
        document = json.loads(json_path.read_text(encoding="utf-8"))
        result = dict(document["scalars"])
        with np.load(npz_path, allow_pickle=False) as arrays:
            for name in arrays.files:
                result[name] = arrays[name]
        return result

    def store(self, kind, config, result):
        """Store ``result`` (a dict of arrays and JSON-serializable values) for ``config``.

        Raises
        ------
        TypeError
            If a value is neither an array nor JSON-serializable; nothing is written then.
        """
        if not self.enabled:
            return
        json_path, npz_path = self._paths(kind, config)
        arrays = {name: value for name, value in result.items() if isinstance(value, np.ndarray)}
        scalars = {name: _plain(value) for name, value in result.items() if name not in arrays}
        document = {"kind": kind, "config": config, "scalars": scalars}
        json.dumps(document)

        with tempfile.TemporaryFile() as buffer:
            np.savez(buffer, **arrays)
            buffer.seek(0)
            atomic_write_bytes(npz_path, buffer.read())
        atomic_write_json(json_path, document)


def _plain(value):
    """Return NumPy scalars as Python numbers, so that they can be written as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value
