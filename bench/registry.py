"""One kind of registry for everything found by name: tasks, methods, oracles, operations, nonlinearities.

A :class:`Registry` maps names to objects. An entry is either the object itself
(:meth:`Registry.add`, or the :meth:`Registry.register` decorator) or a lazy
``"package.module:attribute"`` string (:meth:`Registry.add_lazy`) imported only
when that name is asked for, so that listing names never imports a plugin
(``oracle`` does not import ``decompile`` and torch). ``plugins`` names the
packages whose import registers the entries a registry starts with (the task
suite, the shipped baselines); they are imported once, on first use. An unknown
name raises the registry's error with the closest known names and the full list:

    >>> colours = Registry("colour", KeyError)
    >>> colours.add("teal", 1)
    1
    >>> colours.find("tael")
    Traceback (most recent call last):
    ...
    KeyError: "unknown colour 'tael'. Did you mean 'teal'? Known colours: teal"
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, known: Iterable[str], n: int = 1) -> str:
    """`` Did you mean 'x'?`` (or ``'x' or 'y'``) for the known names closest to ``name``; empty when none is close."""
    if len(str(name)) > 200:  # no name is that long; and difflib's time grows with it
        return ""
    close = difflib.get_close_matches(str(name), list(known), n=n)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def field_hint(name: str, known: Iterable[str]) -> str:
    """``. Did you mean 'x'?`` after an ``unknown field`` message, or nothing."""
    hint = did_you_mean(name, known)
    return "." + hint if hint else ""


class Registry(Mapping[str, T], Generic[T]):
    """Names -> objects, with lazy entries and a did-you-mean error (a read-only ``Mapping``)."""

    def __init__(self, kind: str, error: Callable[[str], Exception] = KeyError, *, plugins: tuple[str, ...] = (),
                 listing: str | None = None, also: str = ""):
        self.kind = kind  # what an entry is, in messages ("task", "method")
        self._error = error
        self._plugins = plugins
        self._plugins_loaded = not plugins
        self._listing = listing or f"Known {kind}s"
        self._also = also  # appended to the unknown-name message (other ways to name one)
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attribute"

    # ----- adding ----------------------------------------------------------------------------

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name``; a name registered twice is a ``ValueError`` (a bug, not input)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy.pop(name, None)
        self._entries[name] = obj
        return obj

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: register the decorated object as ``name`` (default: its ``name`` attribute)."""

        def decorate(obj: T) -> T:
            chosen = name if name is not None else getattr(obj, "name", None)
            if not isinstance(chosen, str):
                raise ValueError(f"register a {self.kind} with a name, or give it a `name` string attribute")
            return self.add(chosen, obj)

        return decorate

    def add_lazy(self, name: str, target: str) -> None:
        """Make ``name`` known now; ``target`` is imported when it is first asked for.

        ``target`` is ``"module:attribute"``, or ``"module"`` when importing the module registers ``name`` itself.
        """
        if name in self._entries or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = target

    # ----- finding -----------------------------------------------------------------------------

    def find(self, name: str) -> T:
        """The object registered as ``name``; an unknown name raises the registry's error (did-you-mean)."""
        self._load_plugins()
        if name not in self._entries:
            if not isinstance(name, str) or name not in self._lazy:
                raise self._error(self.unknown(name))
            module, _, attribute = self._lazy[name].partition(":")
            loaded = importlib.import_module(module)
            if name not in self._entries:  # importing the module may have registered it
                if not attribute:
                    raise LookupError(f"importing {module} did not register the {self.kind} {name!r}")
                self._entries[name] = getattr(loaded, attribute)
            self._lazy.pop(name, None)
        return self._entries[name]

    def unknown(self, name) -> str:
        """The message for a name nobody registered."""
        names = self.names()
        shown = repr(name)[:80]
        return (f"unknown {self.kind} {shown}.{did_you_mean(str(name), names)} "
                f"{self._listing}: {', '.join(names) or 'none'}{self._also}")

    def names(self) -> list[str]:
        """Every registered name, sorted (lazy ones included, without importing them)."""
        self._load_plugins()
        return sorted(self._entries.keys() | self._lazy.keys())

    def loaded(self) -> dict[str, T]:
        """Every entry, importing the lazy ones."""
        return {name: self.find(name) for name in self.names()}

    # ----- Mapping ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> T:
        return self.find(name)

    def get(self, name: str, default=None):
        """``Mapping.get``: the object, or ``default`` for an unknown name."""
        return self.find(name) if name in self else default

    def __contains__(self, name) -> bool:
        self._load_plugins()
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True  # first: a plugin that reads the registry while it loads does not recurse
            for module in self._plugins:
                importlib.import_module(module)

