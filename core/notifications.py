"""In-app notifications (always), built from what a job changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.summary import CurrencySummary

SUMMARY_UPDATED = "summary-updated"


def _money(minor: int, currency: str, exponent: int = 2) -> str:
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return (
        f"{sign}{whole:,}.{frac:0{exponent}d} {currency}"
        if exponent
        else f"{sign}{whole:,} {currency}"
    )


def summary_notification(
    user_id: str, summaries: dict[str, CurrencySummary], now: datetime
) -> dict[str, Any]:
    """The row announcing a changed summary: net per currency, in plain words."""
    from core.statements import currency_exponent

    parts = [
        f"net {_money(s.net_minor, c, currency_exponent(c))} "
        f"over {s.transaction_count} transactions"
        for c, s in sorted(summaries.items())
    ]
    body = "; ".join(parts) if parts else "You have no transactions left."
    return {
        "user_id": user_id,
        "kind": SUMMARY_UPDATED,
        "title": "Your financial summary was updated",
        "body": body[:2000],
        "data": {
            "currencies": {
                c: {
                    "income_minor": s.income_minor,
                    "expenses_minor": s.expenses_minor,
                    "net_minor": s.net_minor,
                    "transaction_count": s.transaction_count,
                }
                for c, s in sorted(summaries.items())
            }
        },
        "channels": {},
        "created_at": now,
    }
