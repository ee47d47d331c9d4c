from ipaddress import ip_address, ip_network

from fastapi import Request

TRUSTED_PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))
TOKENS = {"token-alice": "alice", "token-bob": "bob"}  # stands in for real authentication


def trusted(host: str) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False  # not an address (a unix socket, garbage): never a proxy of ours
    return any(address in network for network in TRUSTED_PROXIES)


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The right-most address not added by one of our proxies."""
    if not trusted(peer) or not forwarded_for:
        return peer  # anyone can write X-Forwarded-For: only our proxies are believed
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return hops[0]  # every hop is ours: the request started inside


def rate_limit_key(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token in TOKENS:
        return f"user:{TOKENS[token]}"
    peer = request.client.host if request.client else "unknown"
    return f"ip:{client_address(peer, request.headers.get('X-Forwarded-For'))}"
