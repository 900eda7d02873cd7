"""A small writer of MaxMind DB files (format 2.0, https://maxmind.github.io/MaxMind-DB/), for
tests: Debian ships readers only.  It writes an IPv6 tree with 24-bit records, IPv4 networks under
::/96, and no data pointers (each network's map is written whole).

    write("t.mmdb", [("192.0.2.0/24", {"autonomous_system_number": ("u32", 64500), ...})])

Values: str, dict, list, ("u16"|"u32"|"u64", n).
"""
import ipaddress

TYPES = {"ptr": 1, "str": 2, "u16": 5, "u32": 6, "map": 7, "u64": 9, "array": 11}


def _control(kind, size):
    t = TYPES[kind]
    first, ext = (t << 5, b"") if t <= 7 else (0, bytes([t - 7]))
    if size < 29:
        return bytes([first | size]) + ext
    if size < 285:
        return bytes([first | 29]) + ext + bytes([size - 29])
    if size < 65821:
        return bytes([first | 30]) + ext + (size - 285).to_bytes(2, "big")
    return bytes([first | 31]) + ext + (size - 65821).to_bytes(3, "big")


def encode(v):
    if isinstance(v, str):
        b = v.encode()
        return _control("str", len(b)) + b
    if isinstance(v, dict):
        return _control("map", len(v)) + b"".join(encode(k) + encode(x) for k, x in v.items())
    if isinstance(v, list):
        return _control("array", len(v)) + b"".join(encode(x) for x in v)
    kind, n = v
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return _control(kind, len(b)) + b


class _Node:
    def __init__(self):
        self.kids = [None, None]  # _Node, ("data", offset) or None


def _bits(network):
    """The network's prefix as bits of the IPv6 tree (IPv4 sits under ::/96)."""
    net = ipaddress.ip_network(network)
    addr, width = int(net.network_address), net.max_prefixlen
    bits = [(addr >> (width - 1 - i)) & 1 for i in range(net.prefixlen)]
    return [0] * 96 + bits if net.version == 4 else bits


def write(path, networks, database_type="dmarcstat-test"):
    root, data = _Node(), bytearray()
    for network, value in networks:
        bits, node = _bits(network), root
        for b in bits[:-1]:
            if not isinstance(node.kids[b], _Node):
                node.kids[b] = _Node()
            node = node.kids[b]
        node.kids[bits[-1]] = ("data", len(data))
        data += encode(value)
    nodes, i = [root], 0
    while i < len(nodes):  # breadth first: a node's number is its place here
        nodes += [k for k in nodes[i].kids if isinstance(k, _Node)]
        i += 1
    number = {id(n): i for i, n in enumerate(nodes)}
    count = len(nodes)

    def record(k):
        if k is None:
            return count
        if isinstance(k, _Node):
            return number[id(k)]
        return count + 16 + k[1]

    tree = b"".join(record(n.kids[0]).to_bytes(3, "big") + record(n.kids[1]).to_bytes(3, "big")
                    for n in nodes)
    meta = {"node_count": ("u32", count), "record_size": ("u16", 24), "ip_version": ("u16", 6),
            "database_type": database_type, "languages": ["en"],
            "binary_format_major_version": ("u16", 2), "binary_format_minor_version": ("u16", 0),
            "build_epoch": ("u64", 1700000000), "description": {"en": "dmarcstat test data"}}
    with open(path, "wb") as f:
        f.write(tree + bytes(16) + bytes(data) + b"\xab\xcd\xefMaxMind.com" + encode(meta))

