"""`python -m jobgate.dialects.documents DIR` (make wsdl): writes every registered dialect's published
documents (its WSDL) into DIR, where the gateway serves them from and a test keeps them equal to `?wsdl`."""

import sys
from collections.abc import Sequence
from pathlib import Path

from jobgate.dialects import registry
from jobgate.dialects.common.seam import Dialect


def write_documents(target: Path, dialects: Sequence[Dialect]) -> list[Path]:
    written = []
    for dialect in dialects:
        for name, content in (dialect.documents() if dialect.documents else {}).items():
            path = target / name
            path.write_bytes(content)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_documents(Path(sys.argv[1] if len(sys.argv) > 1 else "wsdl"), registry()):
        print(path)  # noqa: T201 - make wsdl lists what it wrote
