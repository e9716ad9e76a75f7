"""`dermaplan` and `python -m dermaplan`: the process is set up before the command loads."""

import gc
import os


def main() -> None:
    # Pydantic plugins see every value a model validates, patients' included: Dermaplan loads
    # none unless the environment asks for them (PYDANTIC_DISABLE_PLUGINS set, even empty).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # What a command loads (modules, classes, the knowledge) lives as long as the process: the
    # collector's passes over it as it grows find nothing to free. A command over the records
    # turns it back on once it has loaded (`cli.shell.application`).
    gc.disable()
    from dermaplan.cli import run

    run()


if __name__ == "__main__":
    main()
