"""The shared base every other part of `core` stands on: configuration (`settings`), the database
engine and sessions (`db`, `migrate`, `bulk`), the tables (`models`), money and currencies
(`money`, `currencies`) and user authentication (`auth`).

It owns no business rule and imports nothing from the rest of `core`, `api` or `functions`.
"""
