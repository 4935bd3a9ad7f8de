"""Domain operations, written against `db` and free of FastAPI.

Routes, scripts and background tasks all call these inside a `Database.transaction`.
"""
