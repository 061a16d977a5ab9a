"""The financial summary. `figures` computes a user's figures from their transactions (the
formula, pure, no I/O) out of one pass in `totals`, with merchant names from `merchants`; `shapes`
holds the input row and the stored/served models; `read` is what `GET /api/summary` shows a user.
The job that stores summaries is `functions/financial_summary/`. May import `core.base`. It
never imports the write side or the drain.
"""
