"""The local network delivers webhooks as AWS would: the bus's rule feeds the webhook queue,
and the local runtime polls it into the webhook function, which POSTs to a receiver here."""

from __future__ import annotations

import time

from pointsnet.local.runtime import LocalNetwork
from tests.webhook_receiver import running_receiver


def test_an_earn_reaches_the_partners_receiver_signed(local: LocalNetwork) -> None:
    # Given starlodge's receiver on this machine (the one docs/webhooks.md shows), and its
    # webhook for points.earned, set through the SDK
    client = local.client("starlodge")
    with running_receiver() as receiver:
        created = client.set_webhook(receiver.url, ["points.earned"])
        receiver.secret = created["secret"]
        try:
            # When starlodge gives a member points
            posted = client.earn("hooked-1", 25, "hooked-stay-1")
            # Then within seconds the receiver verified and handled the event
            deadline = time.monotonic() + 60
            while not receiver.handled and time.monotonic() < deadline:
                time.sleep(0.2)
            (event,) = receiver.handled
            assert event["type"] == "points.earned"
            assert event["data"]["transaction_id"] == posted["transaction"]["transaction_id"]
            assert receiver.refused == 0
            # And the webhook lists the delivery as delivered on the first try
            deliveries = client.get_webhook()["deliveries"]
            assert [(d["event_id"], d["status"], d["attempts"]) for d in deliveries] == [
                (event["id"], "delivered", 1)
            ]
        finally:
            client.delete_webhook()
