"""Fake servers on loopback HTTP: the vendors (on a shared base) for connector and end-to-end tests, and a scripted one for client tests."""
