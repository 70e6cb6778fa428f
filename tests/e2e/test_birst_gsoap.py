"""gSOAP accepts Birst's WSDL: `wsdl2h` turns the served `?wsdl` (and wsdl/birst.wsdl) into a header, and
`soapcpp2` generates a C++ client proxy with every operation from it. Debian's gsoap (.ci/run installs it)."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

import httpx
import pytest

from support.birst import PATH
from support.server import JobgateServer

WSDL_FILE: Final = Path(__file__).resolve().parents[2] / "wsdl" / "birst.wsdl"
GSOAP: Final = Path("/usr/share/gsoap")
OPERATIONS: Final = (
    "Login", "Logout", "publishData", "cancelJob", "clearJobStatus", "isJobComplete", "getJobStatus",
    "getDetailedJobStatus", "getLoadStatus", "isPublishingComplete", "getPublishingStatus", "clearCacheInSpace",
    "copySpace", "deleteSpace", "swapSpaceContents",
)  # fmt: skip


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=0)


def run(*argv: str, cwd: Path) -> str:
    assert shutil.which(argv[0]), f"{argv[0]} is not installed (Debian: gsoap; .ci/run installs it)"
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.parametrize("source", ["served", "file"])
def test_wsdl2h_and_soapcpp2_generate_a_client_with_every_operation(
    server: JobgateServer, tmp_path: Path, source: str
) -> None:
    wsdl = tmp_path / "birst.wsdl"
    if source == "served":
        wsdl.write_bytes(httpx.get(f"{server.url}{PATH}?WSDL", timeout=10).content)
    else:
        wsdl.write_bytes(WSDL_FILE.read_bytes())

    run("wsdl2h", "-t", str(GSOAP / "WS" / "typemap.dat"), "-o", "birst.h", "birst.wsdl", cwd=tmp_path)
    (tmp_path / "out").mkdir()
    log = run("soapcpp2", "-C", "-j", "-x", f"-I{GSOAP / 'import'}", "-d", "out", "birst.h", cwd=tmp_path)

    assert "error" not in log.lower()
    proxy = (tmp_path / "out" / "soapCommandWebServiceSoapProxy.h").read_text()
    missing = [op for op in OPERATIONS if f"virtual int {op}(" not in proxy]
    assert missing == []
