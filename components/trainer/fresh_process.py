"""The Trainer's fresh process (see executor.py):

  python -m components.trainer.fresh_process REQUEST PARENT_PID

It asks Linux to end it when its parent ends (a run killed mid-training
leaves no orphan training on), defers `tfx.components`
(components/tfx_imports.py) before anything imports TFX, as the commands
do, then trains as the request says.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent ends (and now, if it already
    has: then this process's parent is no longer `parent_pid`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv) -> None:
    end_with_parent(int(argv[2]))
    from components import tfx_imports  # pylint: disable=import-outside-toplevel
    tfx_imports.lazy_tfx_components()
    # After the deferral: the executor imports TFX's Trainer.
    from components.trainer import executor  # pylint: disable=import-outside-toplevel
    executor.train(argv[1])


if __name__ == "__main__":
    main(sys.argv)
