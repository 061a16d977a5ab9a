"""Notifications: `inbox` holds the in-app notifications users list and mark read, and
`channels/` delivers them elsewhere (Amazon SES email, signed webhook). May import `core.base`.
"""
