"""The container's one connection to TikTok, over real sockets: kept alive, replaced when TikTok has
closed it, and TLS verified against the CA bundle the environment names (else certifi's)."""

import http.server
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from devstack.tiktok_sandbox import TikTokSandbox
from tiktok_connector.delivery import http_session
from tiktok_connector.delivery.http_session import PostFailedError, post_within

ANSWER = b'{"code":0,"message":"OK","request_id":"local","data":{}}'
HEADERS = {"Access-Token": "token", "Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    http_session.reset_session()
    yield
    http_session.reset_session()


def post(url: str) -> int:
    body = json.dumps({"event_source": "web", "event_source_id": "PIXEL", "data": []}).encode()
    answer = post_within(url, data=body, headers=HEADERS, timeout=(2.0, 5.0), deadline_s=7.0)
    return answer.status_code


def test_posts_share_one_kept_alive_connection(sandbox: TikTokSandbox) -> None:
    statuses = [post(sandbox.track_url) for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert sandbox.connections_opened == 1


class _AnswerThenHangUp(socketserver.ThreadingTCPServer):
    """Answers one POST per connection (kept-alive, as far as the headers say), then closes it: what a
    server whose idle timeout is shorter than the time between two invocations does."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OneAnswer)
        self.connections = 0
        self.hung_up = threading.Event()


class _OneAnswer(socketserver.StreamRequestHandler):
    server: _AnswerThenHangUp

    def handle(self) -> None:
        self.server.connections += 1
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.rfile.read(length)
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(ANSWER), ANSWER)
        )
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.server.hung_up.set()


def test_a_connection_tiktok_closed_while_idle_is_replaced_before_the_next_post() -> None:
    with _AnswerThenHangUp() as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/open_api/v1.3/event/track/"
        try:
            first = post(url)
            assert server.hung_up.wait(timeout=5)
            second = post(url)
        finally:
            server.shutdown()

    assert (first, second) == (200, 200)
    assert server.connections >= 2


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_url(local_ca: trustme.CA) -> Iterator[str]:
    """A TLS track URL on 127.0.0.1 whose certificate the local CA signed for `localhost`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    local_ca.issue_cert("localhost").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}/open_api/v1.3/event/track/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_ca_trusted(local_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment names a CA bundle holding the local certificate authority."""
    bundle = tmp_path / "ca.pem"
    local_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))


@pytest.mark.usefixtures("local_ca_trusted")
def test_tls_is_verified_against_the_ca_bundle_the_environment_names(tls_url: str) -> None:
    assert [post(tls_url), post(tls_url)] == [200, 200]


def test_a_certificate_certifi_does_not_trust_is_refused(tls_url: str) -> None:
    with pytest.raises(PostFailedError):
        post(tls_url)


@pytest.mark.usefixtures("local_ca_trusted")
def test_a_certificate_for_another_host_is_refused(tls_url: str) -> None:
    with pytest.raises(PostFailedError):
        post(tls_url.replace("localhost", "127.0.0.1"))  # the certificate names localhost only
