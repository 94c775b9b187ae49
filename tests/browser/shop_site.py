"""A shop's own site on another origin: real HTTP on loopback serving the test pages in pages/.

A page fulfilled by Playwright's router has no address of its own, so Chromium counts it as
public and refuses its requests to the chat server on loopback (local network access); a page
served from 127.0.0.1 is on loopback like the server, as a shop and its chat server are on one
network in production."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "pages"


class ShopSite:
    """Serves pages/<name>.html at http://localhost:<port>/<name>, `__SERVER__` replaced by the chat server's URL."""

    def __init__(self) -> None:
        self.chat_server = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = PAGES / f"{self.path.strip('/').split('?')[0]}.html"
                if not page.is_file() or page.parent != PAGES:
                    self.send_error(404)
                    return
                body = page.read_text().replace("__SERVER__", site.chat_server).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test's own output says what went wrong

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://localhost:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self, chat_server: str) -> ShopSite:
        self.chat_server = chat_server
        self.thread.start()
        return self

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
