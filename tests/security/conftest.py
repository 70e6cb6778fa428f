"""The security tier: the SOAP front door attacked over every binding, on real servers and in-process apps.

Helpers live beside the tests in soapkit.py (this folder is on sys.path, like tests/ is for support/).
"""

import pytest

pytest.register_assert_rewrite("soapkit")
