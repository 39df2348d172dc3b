"""The provider's own operations: facility dashboards, per-client SLAs on business days, and
client billing (docs/decisions/0016-provider-operations.md)."""
