"""Handing the payer over to a provider's checkout (Payme, Click), for the pay page and the API.

The payer's payment is started here (`merchant.start_checkout`: `created`, no provider id
yet); the caller commits it and sends the payer to `checkout_url`, a link in the provider's
own format that names our personal account, the amount and where to send the payer back (our
page of the payment). The provider then calls our merchant endpoints, and the payment's page
shows the outcome. `checkout_origins` are the addresses the pay form's redirect goes to, for
the Content-Security-Policy's form-action.
"""

import re
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from billing.models import MERCHANT_GATEWAYS, Gateway, PaymentAttempt
from billing.payments import merchant
from billing.payments.click import checkout as click_checkout
from billing.payments.payme import checkout as payme_checkout
from housing.errors import Conflict, Unavailable
from housing.settings import Settings

PROVIDER_NAMES = {Gateway.payme: "Payme", Gateway.click: "Click"}
# A host and port as a CSP source may name them (nothing that could end the directive).
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def require_configured(settings: Settings, gateway: Gateway) -> None:
    """Unavailable (503) unless `gateway` is a provider set up on this server."""
    if Gateway(gateway) not in merchant.configured_gateways(settings):
        name = PROVIDER_NAMES.get(Gateway(gateway), str(gateway))
        raise Unavailable(
            f"{name} is not configured on this server (HOUSING_{str(gateway).upper()}__...);"
            " pay by another way, or at a bank or an office"
        )


def open_checkout(
    session: Session,
    settings: Settings,
    gateway: Gateway,
    *,
    apartment_id: int,
    amount_minor: int,
    user_id: int,
    client_key: str | None,
) -> PaymentAttempt:
    """The payer's payment for the provider's checkout; the same `client_key` gives it back.

    Any amount within the provider's limits is taken, also above the debt (the rest is
    prepayment). A key already used for another apartment, provider or amount is a Conflict.
    Two requests with the same key at once make one payment: the second waits for the first's
    row and answers it.
    """
    require_configured(settings, gateway)
    try:
        with session.begin_nested():
            attempt = merchant.start_checkout(
                session,
                gateway,
                apartment_id=apartment_id,
                amount_minor=amount_minor,
                limits=merchant.limits_of(settings, gateway),
                user_id=user_id,
                client_key=client_key,
            )
    except IntegrityError:
        # The same key sent twice at once (a double click): the other request's insert won and
        # has committed by now (ours waited for it); its payment is this one.
        attempt = _by_client_key(session, user_id, client_key)
        if attempt is None:
            raise
    if (attempt.apartment_id, attempt.gateway, attempt.amount_minor) != (apartment_id, gateway, amount_minor):
        raise Conflict("this Idempotency-Key was already used for another payment", field="Idempotency-Key")
    return attempt


def _by_client_key(session: Session, user_id: int, client_key: str | None) -> PaymentAttempt | None:
    if client_key is None:
        return None
    return session.exec(
        select(PaymentAttempt).where(
            PaymentAttempt.created_by_id == user_id, PaymentAttempt.client_key == client_key
        )
    ).first()


def checkout_url(
    settings: Settings, attempt: PaymentAttempt, *, account_number: str, return_url: str, language: str
) -> str:
    """The provider's checkout for `attempt`, sending the payer back to `return_url`."""
    if Gateway(attempt.gateway) is Gateway.payme:
        return payme_checkout.checkout_link(
            settings.payme,
            account_number=account_number,
            amount_minor=attempt.amount_minor,
            return_url=return_url,
            language=language,
        )
    if Gateway(attempt.gateway) is Gateway.click:
        return click_checkout.checkout_link(
            settings.click,
            account_number=account_number,
            amount_minor=attempt.amount_minor,
            return_url=return_url,
        )
    raise ValueError(f"{attempt.gateway} has no checkout of its own")


def checkout_origins(settings: Settings) -> list[str]:
    """The origins of the configured providers' checkouts (scheme://host[:port]), in the pay page's order."""
    urls = {Gateway.payme: settings.payme.checkout_url, Gateway.click: settings.click.checkout_url}
    origins = []
    for gateway in merchant.configured_gateways(settings):
        parts = urlsplit(urls[gateway].strip())
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and _HOST.match(parts.netloc) and origin not in origins:
            origins.append(origin)
    return origins


def is_merchant(gateway: Gateway | str) -> bool:
    return Gateway(gateway) in MERCHANT_GATEWAYS
