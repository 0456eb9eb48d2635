"""The container's connections to TikTok: a proxy and a CA bundle from the environment, read once."""

from collections.abc import Iterator

import certifi
import pytest
from urllib3 import ProxyManager

from tiktok_connector.delivery import http_session

URL = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    http_session.reset_session()
    yield
    http_session.reset_session()


def test_without_a_proxy_one_kept_alive_connection_to_the_host_takes_the_path() -> None:
    direct = http_session.session(URL)

    assert isinstance(direct, http_session._Direct)
    assert (direct.host, direct.port, direct.target) == (
        "business-api.tiktok.com",
        None,
        "/open_api/v1.3/event/track/",
    )
    assert http_session.session(URL) is direct  # one per container
    other = http_session.session("http://127.0.0.1:9/track/?a=1")  # another URL: its own connection
    assert isinstance(other, http_session._Direct) and other.target == "/track/?a=1"


def test_the_proxy_the_environment_names_takes_the_whole_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    manager = http_session.session(URL)

    assert isinstance(manager, ProxyManager)
    assert manager.proxy is not None and manager.proxy.host == "proxy.internal"
    assert manager.pool_classes_by_scheme["https"] is http_session._HTTPSPool  # deadlines still apply


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.tiktok.com")

    assert isinstance(http_session.session(URL), http_session._Direct)


def test_the_ca_bundle_is_certifis_unless_the_environment_names_one(monkeypatch: pytest.MonkeyPatch) -> None:
    default = http_session.session(URL)
    http_session.reset_session()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    named = http_session.session(URL)

    assert isinstance(default, http_session._Direct) and isinstance(named, http_session._Direct)
    assert (default.bundle, named.bundle) == (certifi.where(), "/etc/ssl/certs/ca-certificates.crt")
