"""A customer's personal data, exported or erased on request, across every app that holds some
(docs/security.md, "Customer data"; docs/decisions/0018-security-and-privacy.md)."""
