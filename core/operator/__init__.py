"""The operator surface: `health` (reachability of the database and the queue), `overview` (queue
figures, dead letters and drain runs, and the dead-letter actions), `page` (what the operator
page's Jinja2 template in `templates/` and its files in `static/` are given), `users` (one user
as the operator sees them), `failed` (a user's dead letter as their summary shows it) and `cli`
(`scripts/drain.py`). May import every other part of `core`. Nothing else in core imports it.
"""
