#!/usr/bin/env python3
"""An independent load client: N VIE bots in one Python process, written
from the protocol documents (docs/protocol/core-transport.md,
game-protocol.md), not from our Rust client.

It is the second opinion beside `loadgen`: its arrivals are bursty by default (every
bot of the process sends its position in the same loop pass, once per
period; `--arrivals spread` spaces them evenly), its clock is Python's, and it shares nothing with the server's
code. Use it to compare servers side by side:

    scripts/pyload.py --server 127.0.0.1:5000 --pid SUPERVISOR_PID
    scripts/pyload.py --server 127.0.0.1:7000 --pid ASSS_PID

Relay latency is measured by stamping each position's send time (µs, low
32 bits) into its x and y speed fields, which the zone relays unchanged.
Loss counts the positions sent in the window that some other bot should
have received (all bots sit well inside each other's screen) and did not.
CPU is user + system time of PID and every process under it, from /proc,
over the window, as a percentage of one core.

With `--socket-stamps` each position is also timed when the kernel put it
in the bot's socket (SO_TIMESTAMPNS, read with recvmsg): the gap between
that p99 and the other is this client's own delay, not the zone's. It is
off by default, so that the client does the same work as in earlier runs.
"""
import argparse
import math
import os
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
from vie_client import Client, vie_table  # noqa: E402


def fast_decrypt(data, key, table_bytes):
    """VIE decryption (core-transport.md §5) in three big-integer XORs:
    each plain word is its cipher word XOR the table word XOR the previous
    cipher word (the key for the first), so no word depends on another
    plain word and the whole body can be done at once."""
    h = 2 if data[0] == 0 else 1
    body = data[h:]
    n = len(body)
    pad = (-n) % 4
    c = body + b"\0" * pad
    m = len(c)
    prev = struct.pack("<I", key & 0xFFFFFFFF) + c[:-4]
    x = (int.from_bytes(c, "little") ^ int.from_bytes(table_bytes[:m], "little")
         ^ int.from_bytes(prev, "little"))
    return data[:h] + x.to_bytes(m, "little")[:n]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def now_us():
    return time.monotonic_ns() // 1000


# Linux's socket option and control message type for nanosecond arrival
# stamps (SO_TIMESTAMPNS_OLD; a struct timespec of two 64-bit fields).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def socket_arrival_us(anc):
    """The monotonic µs at which the kernel stamped a datagram, from its
    SCM_TIMESTAMPNS control message (wall clock): the stamp's age by the
    wall clock, taken off the monotonic clock now."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("<qq", data)
            age_ns = max(0, time.time_ns() - (sec * 1_000_000_000 + nsec))
            return (time.monotonic_ns() - age_ns) // 1000
    return None


def tree_cpu_secs(pid):
    """User + system seconds of pid and all its descendants (live ones),
    from one read of every /proc/N/stat."""
    ticks = {}      # pid -> utime + stime
    children = {}   # parent pid -> child pids
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()   # fields from the state on
        ticks[int(d)] = int(rest[11]) + int(rest[12])
        children.setdefault(int(rest[1]), []).append(int(d))
    total = 0
    todo = [pid]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += ticks.get(p, 0)
        todo.extend(children.get(p, []))
    return total / CLK_TCK


class Bot(Client):
    """One connection: the reference client's VIE session, reliable
    in-order delivery, clustered and big packets (tests/py/vie_client.py),
    plus acks of its own reliable packets, clock sync and flying."""

    def __init__(self, idx, addr, centre, run):
        super().__init__(*addr)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setblocking(False)
        self.idx = idx
        self.run = run
        self.stage = "connect"
        self.pid = None
        self.tick_offset = None   # server ticks - local centiseconds
        self.angle = idx * 0.7
        self.centre = centre
        self.unacked = {}         # seq -> (payload, sent at)
        self.client_key = (0x1234567 * (idx + 1)) & 0x7FFFFFFF | 1
        self.arrived_us = None    # kernel arrival of the datagram being read
        if run.args.socket_stamps:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    # -- transport -------------------------------------------------------
    def raw(self, data):
        try:
            super().raw(data)
        except BlockingIOError:
            pass   # a full socket buffer loses the datagram, as UDP may

    def send_reliable(self, payload):
        self.unacked[self.out_seq] = (payload, time.monotonic())
        super().send_reliable(payload)

    def resend(self, now):
        for seq, (payload, at) in list(self.unacked.items()):
            if now - at > 0.5:
                self.unacked[seq] = (payload, now)
                self.raw(struct.pack("<BBi", 0, 3, seq) + payload)

    def local_ticks(self):
        return int(time.monotonic() * 100) & 0xFFFFFFFF

    def datagram(self, data):
        if self.key is None:
            if len(data) == 6 and data[:2] == b"\x00\x02":
                self.key = struct.unpack_from("<I", data, 2)[0]
                if self.key == self.client_key:
                    raise SystemExit("the zone refused encryption")
                self.table = vie_table(self.key)
                self.table_bytes = b"".join(struct.pack("<I", w) for w in self.table)
                self.login()
            return
        self.handle(fast_decrypt(data, self.key, self.table_bytes))

    def on_game(self, pkt):
        self.game(pkt, self.run)

    def on_core(self, kind, pkt):
        if kind == 4 and len(pkt) >= 6:
            self.unacked.pop(struct.unpack_from("<i", pkt, 2)[0], None)
        elif kind == 6 and len(pkt) >= 10:
            client, server = struct.unpack_from("<II", pkt, 2)
            rtt = (self.local_ticks() - client) & 0xFFFFFFFF
            self.tick_offset = (server + rtt // 2 - self.local_ticks()) & 0xFFFFFFFF
        elif kind == 7:
            self.stage = "gone"

    # -- game ------------------------------------------------------------
    def connect(self):
        self.raw(struct.pack("<BBIBB", 0, 1, self.client_key, 1, 0))

    def login(self):
        self.stage = "login"
        login = bytearray(101)
        login[0] = 0x09
        name = b"py%05d" % self.idx
        login[2:2 + len(name)] = name
        login[34:34 + 4] = b"load"
        struct.pack_into("<h", login, 75, 134)
        self.send_reliable(bytes(login))
        self.raw(struct.pack("<BBI", 0, 5, self.local_ticks()))

    def game(self, pkt, run):
        t = pkt[0]
        if t == 0x0A and self.stage == "login":
            if pkt[1] not in (0, 0x0D):
                raise SystemExit("bot %d: login refused with code %d" % (self.idx, pkt[1]))
            self.stage = "enter"
            go = bytearray(26)
            go[0] = 0x01
            go[1] = 8
            struct.pack_into("<hhh", go, 4, 1024, 768, -3)   # screen, public arena
            self.send_reliable(bytes(go))
        elif t == 0x01 and self.stage == "enter":
            self.pid = struct.unpack_from("<h", pkt, 1)[0]
        elif t == 0x02 and self.stage == "enter":
            self.stage = "ship"
            self.send_reliable(bytes([0x18, self.idx % 8]))
        elif t == 0x1D and self.stage == "ship" and len(pkt) >= 6:
            if struct.unpack_from("<h", pkt, 2)[0] == self.pid and pkt[1] != 8:
                self.stage = "fly"
        elif t == 0x28 and len(pkt) >= 16:
            xs = struct.unpack_from("<H", pkt, 14)[0]
            ys = struct.unpack_from("<H", pkt, 10)[0]
            run.relay(self, pkt[8], xs | (ys << 16))
        elif t == 0x05 and len(pkt) >= 21:
            xs = struct.unpack_from("<H", pkt, 10)[0]
            ys = struct.unpack_from("<H", pkt, 6)[0]
            run.relay(self, struct.unpack_from("<H", pkt, 8)[0], xs | (ys << 16))

    def position(self, stamp):
        self.angle += 0.15
        x = self.centre[0] + int(120 * math.cos(self.angle))
        y = self.centre[1] + int(120 * math.sin(self.angle))
        ticks = (self.local_ticks() + (self.tick_offset or 0)) & 0xFFFFFFFF
        p = bytearray(22)
        struct.pack_into("<BbIHhBBhHHhH", p, 0, 0x03, int(self.angle * 6) % 40, ticks,
                         stamp & 0xFFFF, y, 0, 0, x, stamp >> 16, 0, 1000, 0)
        c = 0
        for b in p:
            c ^= b
        p[10] = c
        self.raw(bytes(p))


class Run:
    def __init__(self, args):
        host, port = args.server.rsplit(":", 1)
        self.addr = (host, int(port))
        self.args = args
        self.bots = []
        self.sel = selectors.DefaultSelector()
        self.window = None        # (start_us, end_us)
        self.sent_window = 0
        self.recv_window = 0
        self.lat = []
        self.lat_socket = []
        self.bad = 0

    def relay(self, bot, pid, stamp):
        now = now_us()
        lat = (now - stamp) & 0xFFFFFFFF
        if lat >= 1 << 31:
            self.bad += 1
            return
        sent = now - lat
        if self.window and self.window[0] <= sent < self.window[1]:
            self.recv_window += 1
            self.lat.append(lat)
            if bot.arrived_us is not None:
                self.lat_socket.append(max(0, bot.arrived_us - sent))

    def pump(self, timeout):
        stamps = self.args.socket_stamps
        for key, _ in self.sel.select(timeout):
            bot = key.data
            while True:
                try:
                    if stamps:
                        data, anc, _, _ = bot.sock.recvmsg(4096, socket.CMSG_SPACE(16))
                    else:
                        data, _ = bot.sock.recvfrom(4096)
                except (BlockingIOError, InterruptedError):
                    break
                if stamps:
                    bot.arrived_us = socket_arrival_us(anc)
                bot.datagram(data)

    def start(self):
        rng_c = 1024 * 16 // 2   # map centre, pixels
        for i in range(self.args.bots):
            centre = (rng_c + (i * 37) % 400 - 200, rng_c + (i * 53) % 400 - 200)
            bot = Bot(i, self.addr, centre, self)
            self.bots.append(bot)
            self.sel.register(bot.sock, selectors.EVENT_READ, bot)
        t0 = time.monotonic()
        last_retry = 0.0
        while True:
            now = time.monotonic()
            if now - last_retry > 0.5:
                last_retry = now
                for b in self.bots:
                    if b.key is None:
                        b.connect()
                    else:
                        b.resend(now)
            self.pump(0.01)
            flying = sum(1 for b in self.bots if b.stage == "fly")
            if flying == len(self.bots):
                return time.monotonic() - t0
            if now - t0 > 60:
                raise SystemExit("only %d of %d bots entered within 60 s" % (flying, len(self.bots)))

    def fly(self, secs, measure):
        """Flies every bot for `secs`: with bursty arrivals all bots send in
        the same loop pass once per period; spread, bot i sends at i/N of
        the period (evenly spaced arrivals at the zone)."""
        period = 1.0 / self.args.rate
        n = len(self.bots)
        now = time.monotonic()
        end = now + secs
        if self.args.arrivals == "burst":
            due = [now] * n
        else:
            due = [now + period * i / n for i in range(n)]
        sync_at = now
        while True:
            now = time.monotonic()
            if now >= end:
                return
            nxt = end
            for i, b in enumerate(self.bots):
                if now >= due[i]:
                    due[i] += period
                    if due[i] < now:
                        due[i] = now + period
                    stamp = now_us()
                    b.position(stamp & 0xFFFFFFFF)
                    if measure and self.window[0] <= stamp < self.window[1]:
                        self.sent_window += 1
                nxt = min(nxt, due[i])
            if now >= sync_at:
                sync_at = now + 5
                for b in self.bots:
                    b.raw(struct.pack("<BBI", 0, 5, b.local_ticks()))
                    b.resend(now)
            self.pump(max(0.0, nxt - time.monotonic()))


def percentile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="127.0.0.1:5000")
    ap.add_argument("--pid", type=int, required=True, help="the server's (supervisor's) pid")
    ap.add_argument("--bots", type=int, default=40)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--drain", type=float, default=1.0)
    ap.add_argument("--arrivals", choices=["burst", "spread"], default="burst",
                    help="all bots send in the same pass (burst) or evenly spaced (spread)")
    ap.add_argument("--socket-stamps", action="store_true",
                    help="also time each position at the bot's socket (kernel arrival stamp)")
    args = ap.parse_args()

    run = Run(args)
    entered = run.start()
    run.fly(args.settle, False)
    start = now_us()
    run.window = (start, start + int(args.duration * 1e6))
    cpu0, t0 = tree_cpu_secs(args.pid), time.monotonic()
    run.fly(args.duration, True)
    cpu1, t1 = tree_cpu_secs(args.pid), time.monotonic()
    run.fly(args.drain, True)
    expected = run.sent_window * (len(run.bots) - 1)
    loss = 1.0 - run.recv_window / expected if expected else float("nan")
    cpu = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    print("bots %d entered in %.2f s; server CPU %.2f %% of a core; relay ms p50 %.2f p99 %.2f max %.2f; "
          "loss %.2f %% (%d of %d); bad stamps %d"
          % (len(run.bots), entered, cpu, percentile(run.lat, 0.5) / 1000, percentile(run.lat, 0.99) / 1000,
             max(run.lat, default=0) / 1000, 100 * loss, expected - run.recv_window, expected, run.bad))
    if args.socket_stamps:
        print("at the bots' sockets: relay ms p50 %.2f p99 %.2f max %.2f (%d timed)"
              % (percentile(run.lat_socket, 0.5) / 1000, percentile(run.lat_socket, 0.99) / 1000,
                 max(run.lat_socket, default=0) / 1000, len(run.lat_socket)))


if __name__ == "__main__":
    main()
