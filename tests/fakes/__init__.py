"""Fake vendor servers (loopback HTTP) used by connector tests and the end-to-end test."""
