"""The shared base every other part of `core` stands on: configuration (`settings`), the database
engine and sessions (`db`, `migrate`, `bulk`), the tables (`models`), money and currencies
(`money`, `currencies`), keyset cursors (`paging`), user authentication (`auth`) and secrets
kept out of logs (`logs`).

It owns no business rule. May import nothing else of the project. It never imports the rest of
core, `api` or `functions`.
"""
