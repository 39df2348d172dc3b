"""What an operator sees of a running installation: request ids in structured logs, Prometheus
metrics at /metrics, and the liveness and readiness checks (docs/deploy.md, decision 0019)."""
