"""A partner's webhook: set it, see it with its recent deliveries, rotate its secret, remove it."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import NotFound
from pointsnet.webhooks.addresses import Resolver, checked_target, system_resolver
from pointsnet.webhooks.models import (
    RECENT_DELIVERIES,
    Webhook,
    WebhookDeleted,
    WebhookSecrets,
    WebhookSettings,
    WebhookView,
)
from pointsnet.webhooks.ports import WebhookPort, WebhookSecretsPort

# After a rotation the previous secret still signs (as a second `v1=`) for this long.
PREVIOUS_SECRET_HONOURED = timedelta(hours=24)


def new_webhook_id() -> str:
    return "wh_" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Webhooks:
    def __init__(
        self,
        store: WebhookPort,
        vault: WebhookSecretsPort,
        *,
        allow_loopback: bool = False,
        resolve: Resolver = system_resolver,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.vault = vault
        self.allow_loopback = allow_loopback
        self.resolve = resolve
        self.clock = clock

    def configure(self, caller: Caller, settings: WebhookSettings) -> WebhookView:
        """Create the caller's webhook or change it; the secret is answered when it is new."""
        checked_target(settings.url, allow_loopback=self.allow_loopback, resolve=self.resolve)
        now = self.clock()
        existing = self.store.get(caller.partner_id)
        if existing is None:
            created = self._create(caller, settings, now)
            if created is not None:
                return created
            # Another PUT created it meanwhile: this one changes it, as if it came second.
            existing = self._webhook(caller)
        webhook = existing.model_copy(
            update={"url": settings.url, "events": settings.events, "updated_at": now}
        )
        secret = None
        if settings.rotate_secret:
            secret = self._rotate(webhook, now)
            webhook = webhook.model_copy(update={"secret_rotated_at": now})
        self.store.put(webhook)
        return _view(webhook, secret=secret)

    def _create(
        self, caller: Caller, settings: WebhookSettings, now: datetime
    ) -> WebhookView | None:
        """The partner's first webhook and its secret; None when another PUT got there first."""
        secret = new_secret()
        webhook = Webhook(
            webhook_id=new_webhook_id(),
            partner_id=caller.partner_id,
            url=settings.url,
            events=settings.events,
            created_at=now,
            updated_at=now,
            secret_rotated_at=now,
        )
        # The secret first: a webhook is never stored without what signs its deliveries.
        self.vault.put(webhook.webhook_id, WebhookSecrets(current=secret))
        if not self.store.create(webhook):
            self.vault.delete(webhook.webhook_id)
            return None
        return _view(webhook, secret=secret)

    def show(self, caller: Caller) -> WebhookView:
        webhook = self._webhook(caller)
        deliveries = self.store.deliveries(webhook.webhook_id, RECENT_DELIVERIES)
        return _view(webhook).model_copy(update={"deliveries": deliveries})

    def remove(self, caller: Caller) -> WebhookDeleted:
        webhook = self._webhook(caller)
        self.store.delete(caller.partner_id)
        self.vault.delete(webhook.webhook_id)
        return WebhookDeleted(webhook_id=webhook.webhook_id)

    def _rotate(self, webhook: Webhook, now: datetime) -> str:
        held = self.vault.get(webhook.webhook_id)
        secret = new_secret()
        self.vault.put(
            webhook.webhook_id,
            WebhookSecrets(
                current=secret,
                previous=held.current if held else None,
                previous_until=now + PREVIOUS_SECRET_HONOURED if held else None,
            ),
        )
        return secret

    def _webhook(self, caller: Caller) -> Webhook:
        webhook = self.store.get(caller.partner_id)
        if webhook is None:
            raise NotFound(f"partner {caller.partner_id} has no webhook")
        return webhook


def _view(webhook: Webhook, *, secret: str | None = None) -> WebhookView:
    return WebhookView(
        webhook_id=webhook.webhook_id,
        url=webhook.url,
        events=webhook.events,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
        secret_rotated_at=webhook.secret_rotated_at,
        secret=secret,
    )
