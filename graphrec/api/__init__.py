"""`graphrec serve`: the HTTP JSON API (FastAPI on uvicorn) over the same services as the CLI.

Nothing here imports TensorFlow: requests are answered by the numpy scorers.
"""
