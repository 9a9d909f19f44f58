"""The check every library adapter runs before it uses that library's internals.

A few fast paths reach under a library's public API (``docs/decisions.md``, "Library
adapters"). Each lives in one adapter module named for its library (``*_adapter.py``), which
names the exact versions it was written against (pyproject.toml's pins) and probes the
internals it needs. When a version differs from its pin or a probe fails, the adapter logs one
WARNING and its callers take the library's public path: slower, never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

log = logging.getLogger("tradepit.libraries")


@dataclass(frozen=True, slots=True)
class Pin:
    """A distribution at the one version an adapter was written against (its range is the
    pin in pyproject.toml: exactly this version)."""

    distribution: str
    version: str

    def installed(self) -> str | None:
        """Return the installed version, None when the distribution is not installed."""
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return None

    def mismatch(self) -> str | None:
        """Return why the installed version is not the pinned one, None when it is."""
        found = self.installed()
        if found == self.version:
            return None
        present = f"{found} is installed" if found else "it is not installed"
        return f"{self.distribution}: written against {self.version}, {present}"


@dataclass(frozen=True, slots=True)
class Internals:
    """Whether an adapter may use its library's internals, and why not when it may not."""

    library: str
    pins: tuple[Pin, ...]
    #: Why the internals are not used; empty when they are.
    problem: str = ""

    @property
    def usable(self) -> bool:
        """True when the versions are the pinned ones and every probe passed."""
        return not self.problem

    def describe(self) -> str:
        """Return a line for the start-up log: the versions, and the path that runs."""
        versions = ", ".join(f"{p.distribution} {p.installed() or '-'}" for p in self.pins)
        path = "fast path" if self.usable else f"public path ({self.problem})"
        return f"{self.library} ({versions}): {path}"


def check_internals(library: str, pins: tuple[Pin, ...], probe: Callable[[], None]) -> Internals:
    """Check ``pins`` and run ``probe`` (it raises when an internal it looks for is missing or
    changed shape); log one WARNING when the internals cannot be used."""
    problem = "; ".join(m for m in (pin.mismatch() for pin in pins) if m)
    if not problem:
        try:
            probe()
        except Exception as exc:  # any failure of a probe means: do not use the internals
            problem = f"{type(exc).__name__}: {exc}"
    found = Internals(library, pins, problem)
    if problem:
        log.warning(
            "%s: its internals are not used, the public path runs (slower): %s",
            library,
            problem,
        )
    return found


class Missing(Exception):
    """What a probe raises when an internal it needs is absent or has another shape."""


def require(condition: object, what: str) -> None:
    """Raise ``Missing(what)`` unless ``condition`` holds: a probe's one-line assertion."""
    if not condition:
        raise Missing(what)
