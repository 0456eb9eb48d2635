"""The container's connections to TikTok: a proxy and a CA bundle from the environment, read once."""

from collections.abc import Iterator

import certifi
import pytest
from urllib3 import PoolManager, ProxyManager

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


def test_without_a_proxy_the_hosts_own_pool_takes_the_path() -> None:
    opener, target = http_session._opener(URL)

    assert type(http_session.session(URL)) is PoolManager
    assert target == "/open_api/v1.3/event/track/"
    assert opener.__self__.host == "business-api.tiktok.com"  # type: ignore[attr-defined]
    assert http_session._opener(URL)[0].__self__ is opener.__self__  # type: ignore[attr-defined]


def test_the_proxy_the_environment_names_takes_the_whole_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    opener, target = http_session._opener(URL)
    manager = http_session.session(URL)

    assert opener == manager.urlopen
    assert isinstance(manager, ProxyManager)
    assert manager.proxy is not None and manager.proxy.host == "proxy.internal"
    assert target == URL
    assert manager.pool_classes_by_scheme["https"] is http_session._HTTPSPool  # deadlines still apply


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.tiktok.com")

    assert type(http_session.session(URL)) is PoolManager


def test_the_ca_bundle_is_certifis_unless_the_environment_names_one(monkeypatch: pytest.MonkeyPatch) -> None:
    default = http_session.session(URL)
    http_session.reset_session()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    named = http_session.session(URL)

    assert default.connection_pool_kw["ca_certs"] == certifi.where()
    assert named.connection_pool_kw["ca_certs"] == "/etc/ssl/certs/ca-certificates.crt"
