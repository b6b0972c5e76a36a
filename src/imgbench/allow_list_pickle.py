"""Unpickling bytes we do not trust: only the globals an allow-list names can be built.

A pickle can name any importable callable and have it run while loading. CIFAR-10's batches and
the tutorial's LMDB values are pickles, and both may come from somewhere else than this run, so
each is read by a subclass of `AllowListUnpickler` that names exactly what it needs.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import BinaryIO, ClassVar

from imgbench.errors import ImgbenchError, UnsafePickleError


class AllowListUnpickler(pickle.Unpickler):
    """Resolves the (module, name) pairs of `allowed`; refuses every other global, before it
    runs, with `refusal` (formatted with `module` and `name`)."""

    allowed: ClassVar[Mapping[tuple[str, str], object]]
    refusal: ClassVar[str]

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.allowed[module, name]
        except KeyError:
            raise UnsafePickleError(self.refusal.format(module=module, name=name)) from None


def load(
    unpickler: type[AllowListUnpickler],
    stream: BinaryIO,
    source: str,
    damaged: type[ImgbenchError],
    **options: str,
) -> object:
    """Unpickle `stream` with `unpickler`, naming `source` in any error: a refused global stays an
    `UnsafePickleError`, anything else a damaged pickle can raise becomes `damaged`."""
    try:
        return unpickler(stream, **options).load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{source}: {error}") from None
    except Exception as error:  # a damaged pickle can raise almost anything
        raise damaged(f"{source} is not a readable pickle ({error!r}).") from error
