"""Benchmarks of the rendered service: a ladder of rungs measured in one run on one machine.

`python -m bench` renders a PostgreSQL service from the working tree, then measures a bare ASGI
app (L0), pgbench on the service's SQL (L1), the raw driver (L2), FastAPI over the raw driver
(L3) and the rendered service (L4), so that every figure can be read as a ratio.

The modules under `bench.servers` run in the rendered project's Python environment; the rest
runs in the template's own and needs only the standard library and matplotlib.
"""
