"""The FastAPI application, its dependencies and routers.

The leading underscore matters on Vercel: without a framework preset every `.py` under `api/`
would become a function of its own; `api/index.py` alone is the entry, and underscored files
and folders are left out.
"""
