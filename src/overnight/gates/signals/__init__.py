"""Static tamper signals: code a change adds that lets tests pass without the work.

The ``test-integrity`` gate compares the candidate with the base; these
signals are its second line behind the runtime canaries (which make a lying
test process visible). Each is found in the source, without running it, and
only where the change adds it (``change.py`` counts per file before and
after), so a project that already had such code is not held to account for it:

1. conftest.py doing more than fixtures: code at import time that touches
   pytest or its internals, ``collect_ignore``, hook names built in strings;
   a conftest.py Python cannot decode or parse (hooks and ``pytest_plugins``
   are compared by ``integrity.py``);
2. the code under test importing pytest, ``_pytest`` or pluggy (also through
   ``sys.modules``, ``importlib``, ``__import__``), checking whether it runs
   under pytest, registering a pytest plugin (``pytest11``), installing import
   hooks, replacing builtins or planting modules in ``sys.modules``;
3. the code under test reading frames, tracing, walking the garbage collector,
   reading source text (``inspect``, ``sys._getframe``, ``f_back``,
   ``linecache``...) or opening test files;
4. exit handlers together with overnight's ``OVERNIGHT_*`` variables, and any
   mention of those variables in the code under test or a conftest.py;
5. objects equal to anything (``equality.py``);
6. compiled modules, which no one can read (start-up files are
   ``integrity.py``'s, through ``startup_file``).

Names are resolved through aliases, ``getattr``, ``importlib`` and strings
built at run time (``names.py``, ``values.py``); sources are decoded as
Python decodes them (``source.py``).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from overnight.gates.signals.change import ADVICE, FileChange, Finding, Report, check_change

__all__ = ["ADVICE", "FileChange", "Finding", "Report", "check_change", "startup_file"]

STARTUP_MODULES = {"sitecustomize", "usercustomize"}


def startup_file(path: str) -> bool:
    """A file Python runs at start-up from any folder on its path: a ``.pth`` file,
    or a ``sitecustomize``/``usercustomize`` module in any form (``.py``,
    compiled, a package directory)."""
    parts = PurePosixPath(path).parts
    return path.endswith(".pth") or any(p.split(".")[0] in STARTUP_MODULES for p in parts)
