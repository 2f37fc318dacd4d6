"""Check bodies, one claim per property function.

A property takes measured pairs (or plain inputs) and a setting, asserts or records one claim
through ``checks.assertions``, and is decorated with ``tests_claim``. The ``checks/test_*``
modules draw a setting, train its pairs once and call the properties of the claims they mark.
"""
