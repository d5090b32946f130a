#!/usr/bin/env python3
"""An independent SubSpace VIE client, written from the protocol documents
(core-transport.md, game-protocol.md) without the project's Rust code.

It connects to a zone with VIE encryption, logs in, enters an arena and
waits for the "entered arena" packet. Used by a multi-process test to check
that the zone speaks the protocol as the documents say, not only as our own
Rust client expects.

    vie_client.py HOST PORT NAME ARENA      exit status 0 on success
"""
import socket
import struct
import sys
import time


def vie_step(k):
    """One step of the VIE table generator (core-transport.md 5.2)."""
    t = (k * 0x834E0B5F) >> 48          # Python ints floor on shifts
    t = ((t + 2**31) % 2**32) - 2**31   # truncate to i32
    if t < 0:
        t -= 1
    r = int(abs(k) % 127773) * (1 if k >= 0 else -1)   # C remainder
    nk = r * 16807 - t * 2836 + 123
    nk = ((nk + 2**31) % 2**32) - 2**31
    if nk <= 0:
        nk = (nk + 0x7FFFFFFF + 2**31) % 2**32 - 2**31
    return nk


def vie_table(key):
    k = key - 2**32 if key >= 2**31 else key
    words16 = []
    for _ in range(260):
        k = vie_step(k)
        words16.append(k & 0xFFFF)
    raw = b"".join(struct.pack("<H", w) for w in words16)
    return [struct.unpack_from("<I", raw, 4 * i)[0] for i in range(130)]


def crypt(data, key, table, decrypt):
    h = 2 if data[0] == 0 else 1
    body = bytearray(data[h:])
    n = len(body)
    body += b"\0" * ((-n) % 4)
    chain = key & 0xFFFFFFFF
    for i in range(len(body) // 4):
        w = struct.unpack_from("<I", body, 4 * i)[0]
        out = w ^ table[i] ^ chain
        struct.pack_into("<I", body, 4 * i, out)
        chain = w if decrypt else out
    return bytes(data[:h]) + bytes(body[:n])


class Client:
    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.2)
        self.key = None
        self.table = None
        self.out_seq = 0
        self.in_expected = 0
        self.held = {}
        self.big = b""
        self.packets = []

    def raw(self, data):
        if self.key:
            data = crypt(data, self.key, self.table, False)
        self.sock.sendto(data, self.addr)

    def connect(self):
        client_key = 0x9ABCDEF1
        for _ in range(20):
            self.sock.sendto(struct.pack("<BBIBB", 0, 1, client_key, 1, 0), self.addr)
            try:
                data, _ = self.sock.recvfrom(1024)
            except socket.timeout:
                continue
            if len(data) == 6 and data[:2] == b"\x00\x02":
                server_key = struct.unpack_from("<I", data, 2)[0]
                if server_key == client_key:
                    raise SystemExit("the zone refused encryption")
                self.key = server_key
                self.table = vie_table(server_key)
                return
        raise SystemExit("no key response")

    def send_reliable(self, payload):
        self.raw(struct.pack("<BBi", 0, 3, self.out_seq) + payload)
        self.out_seq += 1

    def on_game(self, pkt):
        """A game packet arrived (in order, unwrapped): kept for wait_for."""
        self.packets.append(pkt)

    def on_core(self, kind, pkt):
        """A core packet this class does not handle itself (acks, time
        sync answers, disconnection): ignored here."""

    def handle(self, pkt):
        if not pkt:
            return
        if pkt[0] != 0:
            self.on_game(pkt)
            return
        if len(pkt) < 2:
            return
        kind = pkt[1]
        if kind == 3 and len(pkt) >= 7:
            seq = struct.unpack_from("<i", pkt, 2)[0]
            self.raw(struct.pack("<BBi", 0, 4, seq))
            if seq >= self.in_expected:
                self.held[seq] = pkt[6:]
            while self.in_expected in self.held:
                self.handle(self.held.pop(self.in_expected))
                self.in_expected += 1
        elif kind == 0x0E:
            pos = 2
            while pos < len(pkt):
                n = pkt[pos]
                if n == 0 or pos + 1 + n > len(pkt):
                    break
                self.handle(pkt[pos + 1:pos + 1 + n])
                pos += 1 + n
        elif kind in (8, 9):
            self.big += pkt[2:]
            if kind == 9:
                whole, self.big = self.big, b""
                self.handle(whole)
        else:
            self.on_core(kind, pkt)

    def wait_for(self, ptype, seconds=5.0):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for i, p in enumerate(self.packets):
                if p[0] == ptype:
                    return self.packets.pop(i)
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            self.handle(crypt(data, self.key, self.table, True))
        raise SystemExit("no packet 0x%02x within %.0f s" % (ptype, seconds))


def main():
    host, port, name, arena = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = Client(host, port)
    c.connect()
    login = bytearray(101)
    login[0] = 0x09
    login[2:2 + len(name)] = name.encode()
    login[34:34 + 6] = b"secret"
    struct.pack_into("<h", login, 75, 134)
    c.send_reliable(bytes(login))
    resp = c.wait_for(0x0A)
    if resp[1] != 0:
        raise SystemExit("login refused with code %d" % resp[1])
    go = bytearray(26)
    go[0] = 0x01
    go[1] = 8  # spectator
    struct.pack_into("<hhh", go, 4, 1024, 768, -3)
    go[10:10 + len(arena)] = arena.encode()
    c.send_reliable(bytes(go))
    who = c.wait_for(0x01)
    pid = struct.unpack_from("<h", who, 1)[0]
    settings = c.wait_for(0x0F)
    if len(settings) != 1428:
        raise SystemExit("settings packet of %d bytes" % len(settings))
    c.wait_for(0x29)
    c.wait_for(0x02)
    c.raw(b"\x00\x07")
    print("entered arena %s as pid %d" % (arena, pid))


if __name__ == "__main__":
    main()
