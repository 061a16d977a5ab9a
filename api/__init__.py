"""The HTTP entry points: `index.py` (the Vercel entry, a top-level `app`), `_lambda.py` (the
AWS Lambda entry: Mangum for HTTP, a drain for scheduled events) and `_http/` (the FastAPI app,
its `deps.py` and one router per area). Routes stay thin: parse, call one function of `core` or
`functions`, map domain errors to HTTP errors. May import `core` and `functions`.
"""
