"""Helpers the tests share, one module per theme; fixtures live in the conftest.py of each folder."""
