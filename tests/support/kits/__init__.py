"""One test kit per dialect, behind one interface (base.DialectKit): the security tier is written once and
parametrised over KITS, so a new dialect gets the whole hostile-input and ownership matrix by adding its kit here."""

from typing import Final

from support.kits.arcgis import ArcGisKit
from support.kits.base import DialectKit
from support.kits.birst import BirstKit
from support.kits.casjobs import CasJobsKit
from support.kits.cisco import CiscoKit
from support.kits.transws import TransWsKit

KITS: Final[tuple[DialectKit, ...]] = (CasJobsKit(), BirstKit(), TransWsKit(), CiscoKit(), ArcGisKit())
XML_KITS: Final = tuple(kit for kit in KITS if kit.xml_variants)


def kit_named(name: str) -> DialectKit:
    [found] = [kit for kit in KITS if kit.name == name]
    return found
