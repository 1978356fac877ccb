"""Tornado 6 (Python), the routes of common.mjs, run by /usr/bin/python3 on one core.

argv: <port> <dataDir>
"""
import asyncio
import signal
import sys

import tornado.httpserver
import tornado.web

HELLO = b"Hello, World!"


class Plaintext(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(HELLO)


class Json(tornado.web.RequestHandler):
    def get(self):
        self.write({"message": "Hello, World!"})


class Echo(tornado.web.RequestHandler):
    def post(self):
        self.set_header("Content-Type", "application/octet-stream")
        self.write(self.request.body)


@tornado.web.stream_request_body
class Upload(tornado.web.RequestHandler):
    def prepare(self):
        self.received = 0
        self.request.connection.set_max_body_size(1 << 40)

    def data_received(self, chunk):
        self.received += len(chunk)

    def post(self):
        self.set_header("Content-Type", "text/plain")
        self.write(str(self.received))


async def main():
    port = int(sys.argv[1])
    data_dir = sys.argv[2] if len(sys.argv) > 2 else "."
    app = tornado.web.Application(
        [
            (r"/plaintext", Plaintext),
            (r"/json", Json),
            (r"/echo", Echo),
            (r"/upload", Upload),
            (r"/static/(.*)", tornado.web.StaticFileHandler, {"path": data_dir}),
        ]
    )
    server = tornado.httpserver.HTTPServer(app, max_body_size=1 << 40)
    server.listen(port, "127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write("listening %d\n" % port)
    sys.stdout.flush()
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
