"""Notifications: `inbox` builds the in-app notification a changed summary produces and lets
users list and mark them read, and `channels/` delivers them elsewhere (Amazon SES email,
signed webhook). May import `core.base`, `core.summary` (the figures a notification announces)
and `core.notify.channels`.
"""
