"""tests/integration/fault_proxy.py - a TCP proxy on 127.0.0.1 that can cut
and restore every connection through it, for the network fault tests.

Usage: python3 fault_proxy.py LISTEN_PORT TARGET_PORT [--kafka]
SIGUSR1 cuts: every open connection is reset and the listening socket is
closed, so new connections are refused. SIGUSR2 restores: the proxy
listens again. Both only ever touch 127.0.0.1. Prints "ready" once
listening. Stops on SIGTERM.

With --kafka the proxy reads the Kafka protocol's size-prefixed frames
and forwards whole ones; SIGHUP then arms it to lose the answer of the
next transaction commit (an EndTxn request with committed = true): the
request goes through, the broker commits, and when its answer comes back
the proxy drops it and cuts as SIGUSR1 does, printing "lost EndTxn
answer". The client is left not knowing that its transaction committed.
With --hold CLIENT_ID (and --kafka) every request of the clients with
that client.id is swallowed, its connection kept open: those clients wait
on a broker that never answers, as on a slow one, while the others are
served. --api KEY (with --hold) swallows only that client's requests of
that api key (2 ListOffsets, 8 OffsetCommit, 9 OffsetFetch): the broker
answers everything else, as one that hangs in one request does. The
first request held prints "held api KEY of CLIENT_ID". --named (with
--api 3, Metadata) holds only the asks that name topics: the client's
asks for the brokers alone are answered, as by a broker that answered
once and then went away.
"""
import asyncio
import signal
import socket
import struct
import sys

END_TXN = 26            # the EndTxn request's api key
END_TXN_FLEXIBLE = 3    # its first version with compact strings
METADATA_FLEXIBLE = 9   # the Metadata request's first flexible version

HOST = "127.0.0.1"
CHUNK = 65536


def uvarint(buf, pos):
    """An unsigned varint at pos: (value, position after it)."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def end_txn_commit(frame):
    """Whether a request frame (size prefix removed) is an EndTxn that
    commits; returns its correlation id, or None."""
    if len(frame) < 8:
        return None
    api_key, version, correlation = struct.unpack_from(">hhi", frame)
    if api_key != END_TXN:
        return None
    pos = 8
    (client_len,) = struct.unpack_from(">h", frame, pos)
    pos += 2 + max(client_len, 0)
    if version >= END_TXN_FLEXIBLE:
        tags, pos = uvarint(frame, pos)  # header tagged fields
        for _ in range(tags):
            _, pos = uvarint(frame, pos)
            size, pos = uvarint(frame, pos)
            pos += size
        length, pos = uvarint(frame, pos)
        pos += length - 1
    else:
        (length,) = struct.unpack_from(">h", frame, pos)
        pos += 2 + length
    pos += 8 + 2  # producer id, producer epoch
    return correlation if frame[pos] else None


def names_topics(frame):
    """Whether a Metadata request frame (size prefix removed) names at
    least one topic: not a null list (every topic) nor an empty one (the
    brokers only)."""
    version = struct.unpack_from(">h", frame, 2)[0]
    (client_len,) = struct.unpack_from(">h", frame, 8)
    pos = 10 + max(client_len, 0)
    if version >= METADATA_FLEXIBLE:
        tags, pos = uvarint(frame, pos)  # header tagged fields
        for _ in range(tags):
            _, pos = uvarint(frame, pos)
            size, pos = uvarint(frame, pos)
            pos += size
        count, pos = uvarint(frame, pos)
        return count > 1  # compact: the count plus one, 0 for null
    (count,) = struct.unpack_from(">i", frame, pos)
    return count > 0


def client_id(frame):
    """The client.id in a request frame's header (size prefix removed),
    or None when it has none."""
    if len(frame) < 10:
        return None
    (length,) = struct.unpack_from(">h", frame, 8)
    if length < 0 or len(frame) < 10 + length:
        return None
    return frame[10:10 + length].decode("utf-8", "replace")


class Connection:
    """One client connection's frames, both ways."""

    def __init__(self):
        self.commits = set()  # correlation ids of EndTxn commits in flight


class Proxy:
    def __init__(self, listen_port, target_port, kafka=False, hold=None,
                 api=None, named=False):
        self.listen_port = listen_port
        self.target_port = target_port
        self.kafka = kafka
        self.hold = hold
        self.api = api
        self.named = named
        self.held = False
        self.armed = False
        self.server = None
        self.writers = set()

    async def frames(self, reader, writer, conn, to_broker):
        """Forwards whole frames; notes EndTxn commits going up and, when
        armed, loses the answer of one coming down and cuts."""
        try:
            while True:
                head = await reader.readexactly(4)
                (size,) = struct.unpack(">i", head)
                frame = await reader.readexactly(size)
                if to_broker and self.holds(frame):
                    continue
                if to_broker:
                    correlation = end_txn_commit(frame)
                    if correlation is not None:
                        conn.commits.add(correlation)
                else:
                    (correlation,) = struct.unpack_from(">i", frame)
                    if correlation in conn.commits:
                        conn.commits.discard(correlation)
                        if self.armed:
                            self.armed = False
                            print("lost EndTxn answer", flush=True)
                            self.cut()
                            return
                writer.write(head + frame)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError,
                asyncio.CancelledError):
            pass
        finally:
            self.drop(writer)

    def holds(self, frame):
        """Whether a request frame is one to swallow (--hold, --api)."""
        if not self.hold or client_id(frame) != self.hold:
            return False
        if self.api is not None and struct.unpack_from(">h", frame)[0] != self.api:
            return False
        if self.named and not names_topics(frame):
            return False
        if not self.held:
            self.held = True
            print(f"held api {struct.unpack_from('>h', frame)[0]} of {self.hold}",
                  flush=True)
        return True

    async def pipe(self, reader, writer):
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.drop(writer)

    def drop(self, writer):
        self.writers.discard(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # A reset, as a cable pulled mid-stream looks to the client.
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        writer.close()

    async def handle(self, client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(
                HOST, self.target_port)
        except OSError:
            client_writer.close()
            return
        self.writers.update((client_writer, up_writer))
        if self.kafka:
            conn = Connection()
            await asyncio.gather(
                self.frames(client_reader, up_writer, conn, True),
                self.frames(up_reader, client_writer, conn, False))
            return
        await asyncio.gather(self.pipe(client_reader, up_writer),
                             self.pipe(up_reader, client_writer))

    async def listen(self):
        self.server = await asyncio.start_server(
            self.handle, HOST, self.listen_port, reuse_address=True)

    def arm(self):
        self.armed = True
        print("armed", flush=True)

    def cut(self):
        if self.server:
            self.server.close()
            self.server = None
        for w in list(self.writers):
            self.drop(w)
        print("cut", flush=True)

    async def restore(self):
        if not self.server:
            await self.listen()
        print("restored", flush=True)


async def main():
    options = sys.argv[3:]
    hold = options[options.index("--hold") + 1] if "--hold" in options else None
    api = int(options[options.index("--api") + 1]) if "--api" in options else None
    proxy = Proxy(int(sys.argv[1]), int(sys.argv[2]),
                  kafka="--kafka" in options or hold is not None, hold=hold,
                  api=api, named="--named" in options)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut)
    loop.add_signal_handler(
        signal.SIGUSR2, lambda: asyncio.ensure_future(proxy.restore()))
    loop.add_signal_handler(signal.SIGHUP, proxy.arm)
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.set_result(None))
    await proxy.listen()
    print("ready", flush=True)
    await stop


asyncio.run(main())
