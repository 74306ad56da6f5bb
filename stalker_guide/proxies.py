"""The client's address, as the reverse proxies we trust report it.

Behind a proxy every request comes from the proxy's address (``REMOTE_ADDR``);
the client's is in ``X-Forwarded-For``, which each proxy extends with the
address it received the request from. Anyone can send that header, so it is
believed only as far as our own proxies wrote it: read from the right, each
entry added by a trusted proxy (``TRUSTED_PROXIES``) is skipped, and the first
address that is not one of them is the client. Without ``TRUSTED_PROXIES`` the
header is never read.
"""

import ipaddress

from django.conf import settings


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address):
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_address(request):
    """The client's address (a string), for throttling and logs."""
    remote = request.META.get("REMOTE_ADDR", "")
    peer = _address(remote)
    if peer is None or not _trusted(peer):
        return remote
    hops = [
        hop
        for header in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if (hop := header.strip())
    ]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not an address: nothing to its left can be believed either.
            break
        client = address
        if not _trusted(address):
            break
    return str(client)
