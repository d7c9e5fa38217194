"""The client's address as this server should believe it.

The peer of the socket (`REMOTE_ADDR`) is the client, unless that peer is one of
`settings.TRUSTED_PROXIES`: then `X-Forwarded-For` is read from the right, skipping
the trusted proxies, and the first address no trusted proxy vouches for is the
client. A header sent by any other peer is ignored, so a client cannot choose the
address its limits are counted against.
"""

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    # An IPv4 peer seen through a dual-stack socket (::ffff:10.0.0.1) is that IPv4 address.
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: list[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(request: HttpRequest | Any) -> str:
    """The client's IP address for `request` (a Django or DRF request), "" when unknown."""
    meta = request.META
    peer = _parse(str(meta.get("REMOTE_ADDR") or ""))
    if peer is None:
        return ""
    proxies: list[Network] = getattr(settings, "TRUSTED_PROXIES", [])
    if not _trusted(peer, proxies):
        return str(peer)
    client = peer
    for hop in reversed(str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")):
        address = _parse(hop)
        if address is None:
            break  # garbage left of a trusted hop: the last trusted hop's view stands
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)
