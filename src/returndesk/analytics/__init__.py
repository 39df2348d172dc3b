"""Merchant analytics: return rates, reasons, defect trends with an early warning, cycle times,
dispositions, money, cost per return and fraud figures, read from daily rollups
(docs/decisions/0015-analytics.md)."""
