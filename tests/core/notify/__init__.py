"""Tests of `core/notify/`: the notification channels; the inbox is tested through `tests/api/`."""
