"""One replay: the stored request body POSTed unchanged with the secret's token (kept for the run)."""

from typing import Final

from tiktok_connector.delivery.deliver import RETRY_POLICY
from tiktok_connector.delivery.tiktok_client import (
    SECRET_UNAVAILABLE,
    TOKEN_MISSING,
    Sent,
    Timeouts,
    TokenSource,
    encode_request_body,
    post_request,
)
from tiktok_connector.platform.errors import UnavailableError
from tiktok_connector.redrive.letters import Letter

TIMEOUTS: Final[Timeouts] = (RETRY_POLICY.connect_timeout_s, RETRY_POLICY.read_timeout_s)
"""Per POST; its whole answer must arrive within their sum."""


class NoTokenError(Exception):
    """The secret's token could not be had (`reason`): nothing was sent, and no letter can be."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replayer:
    def __init__(self, api_url: str, token_source: TokenSource) -> None:
        self.api_url = api_url
        self.token_source = token_source
        self.token: str | None = None

    def send(self, letter: Letter) -> Sent:
        """One POST of the stored body (a second one after a token refresh); raises NoTokenError."""
        sent = post_request(
            self.api_url,
            encode_request_body(letter.request),
            token=self._current_token(),
            token_source=self.token_source,
            timeouts=lambda: TIMEOUTS,
        )
        self.token = sent.token
        return sent

    def _current_token(self) -> str:
        if self.token is None:
            try:
                self.token = self.token_source(False)
            except UnavailableError:
                raise NoTokenError(SECRET_UNAVAILABLE.reason) from None
            if not self.token:
                raise NoTokenError(TOKEN_MISSING.reason)
        return self.token
