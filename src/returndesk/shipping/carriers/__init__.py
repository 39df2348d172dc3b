"""Carrier adapters: `base` is the interface, `prepaid` and `easypost` implement it."""
