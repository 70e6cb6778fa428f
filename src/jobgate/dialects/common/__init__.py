"""What every dialect shares, whatever its protocol: the seam it plugs into, the protocol-neutral error
table, the bounded body reader, the hardened XML gate (SOAP envelopes and Cisco payloads alike) and the
per-request call information."""

from jobgate.dialects.common.seam import (
    BannerLine,
    Dialect,
    DialectOptions,
    IndexLink,
    Labelled,
    Mount,
    Mounted,
    Services,
)

__all__ = ["BannerLine", "Dialect", "DialectOptions", "IndexLink", "Labelled", "Mount", "Mounted", "Services"]
