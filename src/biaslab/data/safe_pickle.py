"""CIFAR's batches are pickles: read them with an unpickler that builds only what the official
files hold, so a crafted batch file runs nothing (with checksums off, `data.verify_checksums=
false`, any file passes torchvision's MD5 test).

An official batch is a dict of str (Python 2 strings, read as latin-1) to a uint8 numpy array
(`data`), lists of ints (`labels`, `fine_labels`, `coarse_labels`), a str (`batch_label`) and a
list of str (`filenames`); the meta file holds lists of class names and ints. Dicts, lists,
str, bytes and numbers need no global; numpy arrays need numpy's rebuilders (`ALLOWED`). Any
other global (`os.system`, `builtins.eval`, ...) is refused before it is looked up. torchvision's own CIFAR10/CIFAR100 code stays the loader: the
classes below run torchvision's `__init__` and `_load_meta` as they are, with only the name
`pickle` in them bound to this module's restricted reader.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import Any, BinaryIO

# (module, name) of every global a CIFAR pickle names: numpy's array and scalar rebuilders, under
# numpy 1's and numpy 2's module names, for every pickle protocol (Python 3's protocol 2 writes
# bytes as `_codecs.encode(str, "latin1")`; protocol 5 rebuilds arrays with `_frombuffer`)
ALLOWED = frozenset(
    {
        *(
            (f"numpy.{core}.multiarray", name)
            for core in ("core", "_core")
            for name in ("_reconstruct", "scalar")
        ),
        *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class RefusedPickleError(pickle.UnpicklingError):
    """A pickle named a global that no CIFAR batch holds: `found` ("module.name") in the file
    `path` (None when read from bytes)."""

    def __init__(self, found: str, path: str | None = None) -> None:
        super().__init__(f"{path or 'the pickle'} names {found}, which no CIFAR batch holds")
        self.found, self.path = found, path


class CIFARUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` allows only `ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise RefusedPickleError(f"{module}.{name}")
        return super().find_class(module, name)


def load(file: BinaryIO, *, encoding: str = "ASCII", **_: Any) -> Any:
    """`pickle.load` as torchvision calls it (`encoding="latin1"`), restricted."""
    try:
        return CIFARUnpickler(file, encoding=encoding).load()
    except RefusedPickleError as err:
        raise RefusedPickleError(err.found, getattr(file, "name", None)) from None


def loads(data: bytes, *, encoding: str = "ASCII") -> Any:
    return load(io.BytesIO(data), encoding=encoding)


RESTRICTED = types.SimpleNamespace(load=load, loads=loads, UnpicklingError=pickle.UnpicklingError)


def _rebound(function: Any) -> Any:
    """`function` (torchvision's own code) with the global `pickle` bound to `RESTRICTED`."""
    rebound = types.FunctionType(
        function.__code__,
        {**function.__globals__, "pickle": RESTRICTED},
        function.__name__,
        function.__defaults__,
        function.__closure__,  # `super()`'s class cell: torchvision's own class
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__doc__ = function.__doc__
    return rebound


def restricted(cls: type) -> type:
    """A subclass of torchvision's CIFAR10 / CIFAR100 (`cls`, or one derived from it) whose
    unpickling is `CIFARUnpickler`; everything else is torchvision's."""
    attrs = {name: _rebound(getattr(cls, name)) for name in ("__init__", "_load_meta")}
    return type(cls.__name__, (cls,), attrs)
