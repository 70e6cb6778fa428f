"""Other SOAP toolkits driven from the e2e tier (all installed by .ci/run): Mono's `wsdl` + `mcs` + `mono` (Debian
mono-devel), and node's `soap` package (npm, tests/e2e/node/). A proxy is generated from the WSDL a real server
serves, compiled with a client program from tests/e2e/dotnet/, and run; node clients live in tests/e2e/node/."""

import shutil
import subprocess
from pathlib import Path
from typing import Final

E2E: Final = Path(__file__).parents[1] / "e2e"
DOTNET_DIR: Final = E2E / "dotnet"
NODE_DIR: Final = E2E / "node"
TOOL_TIMEOUT_S: Final = 300


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed (Debian: mono-devel, nodejs, gsoap; .ci/run installs them)"
    return found


def run(
    *argv: str | Path, cwd: Path | None = None, timeout: float = TOOL_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a tool found on PATH; the caller checks the outcome."""
    return subprocess.run([tool(str(argv[0])), *map(str, argv[1:])], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def checked(*argv: str | Path, cwd: Path | None = None, timeout: float = TOOL_TIMEOUT_S) -> str:
    """Run a tool that must succeed; its standard output."""
    done = run(*argv, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, argv))}: {done.stdout}{done.stderr}"
    return done.stdout


# Mono's runtime can abort while it shuts down, after the program's last line (mono/mono#10832: an assertion
# in mono-threads.c); what the program printed before is whole, and the tests judge that output.
_MONO_EXIT_CRASH: Final = ("mono-threads.c", "previous_token")


def mono(*argv: str | Path, cwd: Path | None = None, timeout: float = TOOL_TIMEOUT_S) -> str:
    """Run a compiled .NET client under `mono`; its standard output. A crash of the runtime at exit is not the
    client's failure; any other non-zero exit is."""
    done = run("mono", *argv, cwd=cwd, timeout=timeout)
    crashed_at_exit = all(marker in done.stderr for marker in _MONO_EXIT_CRASH)
    assert done.returncode == 0 or crashed_at_exit, f"mono {' '.join(map(str, argv))}: {done.stdout}{done.stderr}"
    return done.stdout


def dotnet_client(wsdl_url: str, protocol: str, client: str, workdir: Path) -> Path:
    """`wsdl -protocol:<SOAP|SOAP12>` on the served WSDL, compiled by `mcs` with tests/e2e/dotnet/<client>: the
    program to hand to `mono`."""
    proxy, program = workdir / "proxy.cs", workdir / "client.exe"
    checked("wsdl", "-nologo", f"-protocol:{protocol}", f"-out:{proxy}", wsdl_url, cwd=workdir)
    checked("mcs", "-nologo", "-r:System.Web.Services.dll", f"-out:{program}", proxy, DOTNET_DIR / client, cwd=workdir)
    return program


def node() -> str:
    """node, with the one npm dependency of tests/e2e/node installed."""
    found = tool("node")
    assert (NODE_DIR / "node_modules" / "soap").is_dir(), "run `npm ci --prefix tests/e2e/node` (.ci/run does)"
    return found
