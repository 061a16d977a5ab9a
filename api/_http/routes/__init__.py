"""One router per area of the HTTP surface: `transactions` (writes, uploads, statements),
`summary`, `inbox` (notifications and job history), `cron` (the drain endpoint), `health` and
`admin` (the operator page, its figures and the queue actions). Each is thin and maps domain
errors to HTTP errors; `api/_http/app.py` includes them all. May import `api._http.deps`,
`core` and `functions`.
"""
