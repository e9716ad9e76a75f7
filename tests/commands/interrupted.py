"""Runs a backup or a restore as `dermaplan backup` and `dermaplan restore` do (the application
made from the environment's settings, acting as DERMAPLAN_STAFF) and kills itself with
SIGKILL as soon as its progress reports a given step: how the tests interrupt one at each
point it names, with nothing in the code under test but the progress it reports anyway.

    python interrupted.py backup|restore PATH STAGE DONE
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from dermaplan.app import records_admin
from dermaplan.app.principal import Access
from dermaplan.app.unit import Application
from dermaplan.records.settings import records_settings


def main(command: str, path: Path, stage: str, done: int) -> None:
    def progress(reported: str, step: int, total: int) -> None:
        if (reported, step) == (stage, done):
            os.kill(os.getpid(), signal.SIGKILL)

    application = Application(records_settings())
    acting = os.environ["DERMAPLAN_STAFF"]
    if command == "restore":
        records_admin.restore(application, acting, path, progress)
    else:
        with application.unit(acting, access=Access.READ) as uow:
            records_admin.backup(uow, path, progress)
    sys.exit(f"{command} ended without reaching {stage} {done}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
