"""Serves an app the way the rendered service serves itself: `<package>.server.main(app)`.

`python -m bench.servers.launch <package> <module:factory>` runs uvicorn with the very settings
the production entry point uses (host, port, workers, limit_concurrency, proxy headers, the
JSON log config with its access log), so L0, L3 and L4 differ only in the app.
"""

import importlib
import sys


def main() -> None:
    package, app = sys.argv[1], sys.argv[2]
    importlib.import_module(f"{package}.server").main(app)


if __name__ == "__main__":
    main()
