"""Quotes: the quote aggregate, its lifecycle state machine and approvals (pure core)."""
