"""The SOAP machinery the SOAP dialects share: the gateway (SOAP 1.1/1.2 dispatch over the hardened XML
gate), the Spyne applications, the fast lane, faults, WSDL, and ASMX's conventions for the services that
follow them. A SOAP dialect declares its Spyne services and describes itself as a `SoapService`."""
