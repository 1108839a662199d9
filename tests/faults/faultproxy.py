"""A TCP proxy that injects network faults, for the fault tests
(tests/faults/network.py).  nftables and tc netem are not available on the
machines that run the tests, so the faults are made here, between sluice
and a service: sluice is given the proxy's port instead of the service's.

    proxy = FaultProxy("broker", 39192, ("127.0.0.1", 39094), seed=7)
    proxy.start()                 # serves on a thread of its own
    proxy.set_mode("blackhole")   # thread-safe; takes effect at once
    proxy.set_mode("pass")
    proxy.stop()

Modes (what a client of the proxy sees):

  pass       bytes flow both ways untouched.
  down       the service is gone: new connections are refused (nothing
             listens) and every open connection is reset (RST).
  blackhole  the service is unreachable, packets vanish: new connections
             are accepted (as a SYN the proxy's kernel answers) but reach
             nothing, and no byte moves on any connection.  When the mode
             ends, the partition heals as TCP would after retransmission:
             what was held is delivered and new connections go through.
  halfopen   like blackhole, but when it ends every connection open during
             it stays dead (a middlebox lost their state, a server hung):
             it never moves a byte again and is never closed, on either
             side, so the server may keep running its session.  Only the
             client's own timeouts get it out.
  slow       every chunk is delayed (`delay` s) and the bandwidth is held
             to `rate` bytes a second each way.
  lossy      packet loss as TCP shows it: it cannot lose bytes silently, so
             a lost packet is a stall of the connection (a retransmission,
             0.2-1.5 s) and a burst of loss a reset.  Each chunk stalls with
             probability `stall_p` and resets its connection with `reset_p`.

Every random choice comes from one random.Random(seed) per proxy, so a
failing run is replayed with the same seed (the order of chunks between
connections still depends on timing).  counts() says how many connections,
resets and stalls there were.
"""

import asyncio
import random
import socket
import struct
import threading

MODES = ("pass", "down", "blackhole", "halfopen", "slow", "lossy")


class FaultProxy:
    def __init__(self, name, listen_port, target, seed=0, delay=0.3, rate=64 * 1024,
                 stall_p=0.05, reset_p=0.01):
        self.name = name
        self.listen_port = listen_port
        self.target = target
        self.rng = random.Random(seed)
        self.delay = delay
        self.rate = rate
        self.stall_p = stall_p
        self.reset_p = reset_p
        self.mode = "pass"
        self.stats = {"connections": 0, "resets": 0, "stalls": 0, "held": 0}
        self._conns = set()
        self._loop = None
        self._server = None
        self._flowing = None  # asyncio.Event: set unless blackhole/halfopen
        self._thread = None

    # ------------------------------------------------------------ public --

    def start(self):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="faultproxy-" + self.name)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy %s did not start" % self.name)
        return self

    def stop(self):
        if self._loop:
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError("mode %r is not one of %s" % (mode, ", ".join(MODES)))
        self._call(self._set_mode(mode))

    def counts(self):
        return dict(self.stats, open=len(self._conns))

    # ----------------------------------------------------------- the loop --

    def _call(self, coro):
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def _run(self, ready):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._loop.run_until_complete(self._listen())
        ready.set()
        self._loop.run_forever()

    async def _listen(self):
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1",
                                                      self.listen_port, reuse_address=True)

    async def _unlisten(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _shutdown(self):
        await self._unlisten()
        for c in list(self._conns):
            c.reset()
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _set_mode(self, mode):
        old, self.mode = self.mode, mode
        if mode == "down":
            await self._unlisten()
            for c in list(self._conns):
                c.reset()
        elif old == "down":
            await self._listen()
        if old == "halfopen" and mode != "halfopen":
            for c in self._conns:
                c.dead = True
        if mode in ("blackhole", "halfopen"):
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _accept(self, reader, writer):
        self.stats["connections"] += 1
        conn = _Conn(self, writer)
        self._conns.add(conn)
        try:
            await conn.run(reader)
        finally:
            self._conns.discard(conn)


def _rst(writer):
    """Closes a stream with a reset rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class _Conn:
    """One client connection and its upstream one."""

    def __init__(self, proxy, client_writer):
        self.p = proxy
        self.client = client_writer
        self.upstream = None
        self.dead = False  # held through a halfopen window: never moves again
        self.closed = False
        self.tasks = []

    def reset(self):
        if self.closed:
            return
        self.closed = True
        self.p.stats["resets"] += 1
        _rst(self.client)
        if self.upstream is not None:
            _rst(self.upstream)
        for t in self.tasks:
            t.cancel()

    async def gate(self):
        """Waits while no byte may move; forever once the connection is dead."""
        if not self.p._flowing.is_set():
            self.p.stats["held"] += 1
        await self.p._flowing.wait()
        if self.dead:
            await asyncio.Event().wait()

    async def run(self, client_reader):
        try:
            # A connection that arrives during a blackhole waits before it
            # reaches the service, like a SYN retransmitted until the network heals.
            await self.gate()
            if self.closed:
                return
            try:
                up_reader, self.upstream = await asyncio.open_connection(*self.p.target)
            except OSError:
                self.reset()  # the service itself is down: the client sees a reset
                return
            self.tasks = [asyncio.ensure_future(self.pump(client_reader, self.upstream)),
                          asyncio.ensure_future(self.pump(up_reader, self.client))]
            await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass
        finally:
            for t in self.tasks:
                t.cancel()
            if not self.closed:
                self.closed = True
                for w in (self.client, self.upstream):
                    if w is not None:
                        w.close()

    async def pump(self, reader, writer):
        p = self.p
        while True:
            data = await reader.read(16384)
            if not data:
                await self.gate()  # a dead connection passes nothing on, not even the end
                return
            await self.gate()
            if p.mode == "slow":
                await asyncio.sleep(p.delay + len(data) / float(p.rate))
            elif p.mode == "lossy":
                roll = p.rng.random()
                if roll < p.reset_p:
                    self.reset()
                    return
                if roll < p.reset_p + p.stall_p:
                    p.stats["stalls"] += 1
                    await asyncio.sleep(p.rng.uniform(0.2, 1.5))
            await self.gate()
            writer.write(data)
            await writer.drain()
