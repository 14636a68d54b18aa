"""Running the HTTP app: one process, or several worker processes sharing one listening socket.

`sis serve --workers N` starts N uvicorn workers (separate processes) over one database. uvicorn
builds each worker's app from a picklable factory; ours is `functools.partial(worker_app, ...)`
carrying the Settings the CLI read, so a worker builds its own engine, pool and Deps from the same
configuration without reading the environment again. Nothing a request needs lives only in one
worker: MCP runs stateless (mcp_server/app.py), every decision reads the database, and what a
worker remembers either carries a database version token or is emptied when the credentials
token changes (mcp_server/cache_watch.py). See docs/running/processes.md.
"""

from __future__ import annotations

import functools
from typing import Any

from mcp_server.settings import Settings


def base_url_of(host: str, port: int) -> str:
    """The address the server tells clients about (a wildcard bind is announced as loopback)."""
    return f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"


def worker_app(settings: Settings, base_url: str, demo_mode: bool) -> Any:
    """One worker's app: its own engine and Deps from the settings handed down by the CLI."""
    from db.engine import make_engine
    from mcp_server.app import create_app

    engine = make_engine(settings.database_url)
    return create_app(engine, settings=settings, demo_mode=demo_mode, base_url=base_url, run_jobs=True)


def serve_workers(settings: Settings, host: str, port: int, *, workers: int, demo_mode: bool) -> None:
    """Serve with `workers` processes on one socket (uvicorn's supervisor restarts a worker that dies)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    factory = functools.partial(worker_app, settings, base_url_of(host, port), demo_mode)
    # uvicorn.run insists on an import string for workers; a picklable factory does the same job
    # and keeps the settings the CLI read (the environment is read once, in the CLI entry).
    config = uvicorn.Config(factory, factory=True, host=host, port=port, workers=workers, log_level="info")
    Multiprocess(config, sockets=[config.bind_socket()]).run()
