"""The financial summary: `figures` computes a user's figures from their data (pure, no I/O) and
`read` is what `GET /api/summary` shows a user. The job that stores summaries is
`functions/financial_summary.py`. May import `core.base`; never the write side or the drain.
"""
