"""Where webhooks may be delivered: public https addresses only, unless the operator allows more (#15 SSRF).

A subscription URL is checked when it is created (its text: scheme, credentials, a literal
address in any notation, loopback names, the server's own host) and again at every delivery,
after DNS resolution, against every address the name resolves to; the dispatcher then connects
to the address it checked. Address classes come from `ipaddress` (is_global and friends).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from domain.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_HEX = re.compile(r"^0[xX][0-9a-fA-F]*$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedUrl(InvalidInput):
    """A webhook URL that may not be delivered to (the message says which rule)."""

    code = "webhook_url_blocked"


@dataclass(frozen=True)
class UrlPolicy:
    """What the operator allows beyond public https hosts (built from Settings by the composition root)."""

    allow_http: bool = False
    # Host names (exact, lower case) and networks allowed even when private or loopback.
    allow_names: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    # The server's own public host names (from SIS_PUBLIC_URL): never a webhook target.
    own_hosts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, *, allow_hosts: tuple[str, ...] = (), allow_http: bool = False, public_url: str | None = None
    ) -> UrlPolicy:
        """A policy from the operator's settings: allow_hosts entries are names, addresses or CIDRs."""
        names, networks = set(), []
        for entry in (e.strip().lower().strip("[]").rstrip(".") for e in allow_hosts):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry)
        own = {urlsplit(public_url).hostname or ""} - {""} if public_url else set()
        return cls(allow_http, frozenset(names), tuple(networks), frozenset(h.rstrip(".") for h in own))

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.allow_networks if net.version == address.version)


@dataclass(frozen=True)
class Target:
    """A checked URL: its host name as written (for Host and TLS) and its port."""

    url: str
    host: str
    port: int
    literal: IPAddress | None = None
    allowed_by_name: bool = field(default=False)


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host that ends in a number (127.1, 2130706433, 0x7f000001, 0177.0.0.1); None for names.

    The parse browsers and curl apply (the WHATWG URL IPv4 parser), so no notation slips past.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not (labels[-1].isdigit() or _HEX.match(labels[-1])):
        return None
    if len(labels) > 4:
        raise BlockedUrl(f"url host {host!r} is not a valid address", field="url")
    numbers = []
    for label in labels:
        try:
            if _HEX.match(label):
                numbers.append(int(label[2:] or "0", 16))
            elif len(label) > 1 and label.startswith("0"):
                numbers.append(int(label, 8))
            else:
                numbers.append(int(label, 10))
        except ValueError:
            raise BlockedUrl(f"url host {host!r} is not a valid address", field="url") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise BlockedUrl(f"url host {host!r} is not a valid address", field="url")
    return ipaddress.IPv4Address(last + sum(n * 256 ** (3 - i) for i, n in enumerate(head)))


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells in any notation, or None when it is a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _ipv4_number(host) if ":" not in host else None


def _embedded(address: IPAddress) -> IPAddress | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, unique-local, CGNAT, multicast, unspecified."""
    inner = _embedded(address)
    if inner is not None and not address_is_public(inner):
        return False
    return (
        (address.is_global or inner is not None)
        and not address.is_multicast
        and not address.is_unspecified
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
    )


def check_address(address: IPAddress, target: Target, policy: UrlPolicy) -> None:
    """Refuse delivering `target` to `address` unless it is public or the operator allows it.

    Raises:
        BlockedUrl: the address is not public and neither it nor the host is allow-listed.
    """
    if target.allowed_by_name or policy.allows_address(address) or address_is_public(address):
        return
    raise BlockedUrl(f"url host {target.host!r} is a non-public address ({address})", field="url")


def check_url(url: str, policy: UrlPolicy) -> Target:
    """The URL's target when its text may be a webhook destination (DNS is checked at delivery).

    Raises:
        BlockedUrl: not https (unless http is allowed), credentials in it, no or a malformed host,
            a non-public literal address, a loopback name, or the server's own host.
    """
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BlockedUrl("url is not a valid URL", field="url") from None
    allowed_schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed_schemes:
        raise BlockedUrl(
            "url must be https" + ("" if policy.allow_http else " (http needs SIS_WEBHOOK_ALLOW_HTTP=1)"), field="url"
        )
    if "@" in parts.netloc:
        raise BlockedUrl("url must not carry credentials (user:password@)", field="url")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c in host for c in "%\\ \t\r\n"):
        raise BlockedUrl("url has no valid host", field="url")
    target = Target(
        url=url.strip(),
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        literal=literal_address(host),
        allowed_by_name=host in policy.allow_names,
    )
    if target.allowed_by_name:
        return target
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedUrl(f"url host {host!r} is this machine", field="url")
    if host in policy.own_hosts:
        raise BlockedUrl(f"url host {host!r} is this server (SIS_PUBLIC_URL)", field="url")
    if target.literal is not None:
        check_address(target.literal, target, policy)
    return target
