"""Run a Python module as ``__main__`` for as long as stdin stays open.

``python -m overnight.llm.lifeline MODULE ARGS...``: the embedded model's
server is started this way by ``llm/local.py`` with stdin a pipe from the
worker. When the worker exits, however it dies (even SIGKILL), the kernel
closes the pipe; the watcher thread sees end-of-file and kills this process
group, so the server is never orphaned.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading


def _watch() -> None:
    while sys.stdin.buffer.read(4096):
        pass  # the parent never writes; anything read is ignored
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m overnight.llm.lifeline MODULE [ARGS...]")
    threading.Thread(target=_watch, name="lifeline", daemon=True).start()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
