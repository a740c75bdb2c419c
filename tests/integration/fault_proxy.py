"""tests/integration/fault_proxy.py - a TCP proxy on 127.0.0.1 that can cut
and restore every connection through it, for the network fault tests.

Usage: python3 fault_proxy.py LISTEN_PORT TARGET_PORT
SIGUSR1 cuts: every open connection is reset and the listening socket is
closed, so new connections are refused. SIGUSR2 restores: the proxy
listens again. Both only ever touch 127.0.0.1. Prints "ready" once
listening. Stops on SIGTERM.
"""
import asyncio
import signal
import socket
import sys

HOST = "127.0.0.1"
CHUNK = 65536


class Proxy:
    def __init__(self, listen_port, target_port):
        self.listen_port = listen_port
        self.target_port = target_port
        self.server = None
        self.writers = set()

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
        await asyncio.gather(self.pipe(client_reader, up_writer),
                             self.pipe(up_reader, client_writer))

    async def listen(self):
        self.server = await asyncio.start_server(
            self.handle, HOST, self.listen_port, reuse_address=True)

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
    proxy = Proxy(int(sys.argv[1]), int(sys.argv[2]))
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut)
    loop.add_signal_handler(
        signal.SIGUSR2, lambda: asyncio.ensure_future(proxy.restore()))
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.set_result(None))
    await proxy.listen()
    print("ready", flush=True)
    await stop


asyncio.run(main())
