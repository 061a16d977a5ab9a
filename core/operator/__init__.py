"""The operator surface: `health` (reachability of the database and the queue), `page` (queue
figures, dead letters and drain runs, as data or as a page) and `cli` (`scripts/drain.py`).
May import every other part of `core`; nothing in `core` imports it.
"""
