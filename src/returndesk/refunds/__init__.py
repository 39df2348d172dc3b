"""Refunds: the pure calculator (calculator.py, tenders.py), the refund rows and their
execution (models.py, services.py, execution.py), payment providers (providers/) and exchanges.
docs/refunds.md."""
