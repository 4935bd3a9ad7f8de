"""L4 for the overload scenario: the rendered app plus one route that sleeps in the database.

The route takes the service's own read session (its `SessionDep`), so the rendered pool, its
timeout and the service's 503 mapping are what the scenario measures.
"""

import importlib
import os
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from .. import sql
from ..scenarios import OVERLOAD_SLEEP


def create_app() -> FastAPI:
    package = os.environ["BENCH_PACKAGE"]
    main = importlib.import_module(f"{package}.main")
    settings = importlib.import_module(f"{package}.settings")
    dependencies = importlib.import_module(f"{package}.db.dependencies")
    app: FastAPI = main.create_app(settings.Settings())
    session_dep: Any = dependencies.SessionDep
    slow_query = text(sql.SLOW_QUERY.text.replace("$1", ":seconds"))

    async def slow(session: session_dep) -> dict[str, str]:
        await session.execute(slow_query, {"seconds": OVERLOAD_SLEEP})
        return {"status": "ok"}

    app.add_api_route("/bench/slow", slow, methods=["GET"])
    return app
