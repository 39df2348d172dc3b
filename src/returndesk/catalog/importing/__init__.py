"""Order import from files: generic CSV and JSON Lines, and the UCI Online Retail file.

Parsers turn a file into a stream of `OrderInput`s and `Skip`s; the runner validates and writes
them in batches through the catalogue services (any database), or on PostgreSQL through COPY
into staging tables and a set-based upsert. Memory stays flat whatever the file size.
"""
