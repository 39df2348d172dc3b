"""Refunds: the pure calculator (calculator.py, tenders.py) now; refund rows, payment providers,
store credit and exchanges later. docs/refunds.md."""
