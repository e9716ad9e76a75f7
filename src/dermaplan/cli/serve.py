"""`dermaplan serve`: the web app and its API on uvicorn, over the configured records."""

from __future__ import annotations

from typing import Annotated

import typer

from dermaplan.cli.shell import outside_a_unit, say, single

serve_app = single()
FACTORY = "dermaplan.web.app:from_settings"


@serve_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="The port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Worker processes; they share nothing but the database."),
    ] = 1,
) -> None:
    """Serve the web app and its API. Staff sign in with the login and password set by
    `dermaplan staff password` (and a TOTP code where they have one: admins must); put
    it behind a TLS proxy for anything but this machine."""
    import uvicorn

    outside_a_unit(lambda app: app.engine)  # a database that cannot be used stops here
    say(f"Dermaplan on http://{host}:{port} (Ctrl-C stops it)", err=True)
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,  # the client's address from a proxy on this machine
        server_header=False,
    )
