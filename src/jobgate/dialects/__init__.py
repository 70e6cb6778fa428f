"""Wire dialects: each a thin translation layer over the service layer, described once by its package's
`DIALECT` (see common/seam.py). REGISTRY is the one list of them: the app, the index page, the start-up
banner, the metrics labels and `make wsdl` all derive from it. A new dialect is its folder plus its name here.
"""

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from jobgate.dialects.common.seam import Dialect

REGISTRY: Final = (
    "jobgate.dialects.casjobs",
    "jobgate.dialects.cisco",
    "jobgate.dialects.birst",
    "jobgate.dialects.transws",
    "jobgate.dialects.arcgis",
)  # fmt: skip


def registry(modules: Iterable[str] = REGISTRY) -> "tuple[Dialect, ...]":
    """The dialects of these modules (each exposes `DIALECT`), imported when asked for: nothing is built at
    import. By default every dialect this build serves."""
    return tuple(importlib.import_module(module).DIALECT for module in modules)
