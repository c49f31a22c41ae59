"""The HTTP calls to partners' receivers: to the address that was checked, never another.

`http.client` connects to the checked IP address itself (TLS still verifies the host's name),
so a DNS answer that changed since the check cannot send the call elsewhere. Redirects are
not followed: a 3xx is a failed delivery, as a redirect could point inside the network.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping

from pointsnet.webhooks.addresses import Target
from pointsnet.webhooks.ports import Answer

# A receiver's answer body is read (so the connection closes cleanly) up to this, then dropped.
MAX_ANSWER_BYTES = 65536


class _ToAddress(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _TlsToAddress(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


class HttpSender:
    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        error = "no address to call"
        for address in target.addresses:
            kind = _TlsToAddress if target.scheme == "https" else _ToAddress
            connection = kind(target.host, target.port, address, timeout)
            try:
                connection.request("POST", target.path, body=body, headers=dict(headers))
                response = connection.getresponse()
                response.read(MAX_ANSWER_BYTES)
                return Answer(status=response.status)
            except TimeoutError:
                return Answer(status=None, error=f"no answer within {timeout:g} s")
            except (OSError, http.client.HTTPException) as exc:
                # Another address of the host may answer: a connection refused is not final.
                error = f"{type(exc).__name__}: {exc}"
            finally:
                connection.close()
        return Answer(status=None, error=error)
