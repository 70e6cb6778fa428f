"""`python -m jobgate.dialects.casjobs.wsdlgen [jobs|casusers]` prints the WSDL kept in wsdl/ (make wsdl)."""

import sys

from jobgate.dialects.casjobs import jobs_apps, users_apps
from jobgate.dialects.casjobs.wire import TNS
from jobgate.dialects.common.wsdl import build_wsdl


def jobs_wsdl() -> bytes:
    return build_wsdl(jobs_apps(), "Jobs", TNS, http_bindings=True)


def users_wsdl() -> bytes:
    return build_wsdl(users_apps(), "CasUsers", TNS, http_bindings=True)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "jobs"
    sys.stdout.buffer.write(users_wsdl() if which == "casusers" else jobs_wsdl())
