"""Helpers shared by the tests, one home each.

Test modules import helpers from here and take fixtures from ``tests/conftest.py``,
never from another test module.
"""
