"""Child processes of the local runtime (the emulator, the function workers) and Ctrl-C.

The parent decides when a child stops: a child ignores the terminal's interrupt and leaves at
once when told to. Nothing here imports the rest of `pointsnet.local`, so the emulator and the
worker pool can both use it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from typing import NoReturn


def start_process(process: BaseProcess) -> None:
    """Start a child that ignores the terminal's Ctrl-C: the parent decides when it stops.

    The child must call `ignore_terminal_interrupts` first thing.
    """
    # A signal mask survives fork and exec: the child starts with SIGINT blocked, so a Ctrl-C
    # during its start-up cannot print a KeyboardInterrupt traceback from it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_terminal_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def exit_process() -> NoReturn:
    """Leave a child at once: its state is disposable, and interpreter teardown is slow."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
