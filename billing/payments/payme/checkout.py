"""Payme's checkout link: where the pay page sends the payer (Payme's "GET" checkout).

The parameters are `m` (merchant id), `ac.<field>` (our personal account), `a` (amount in
tiyin), `c` (where Payme sends the payer back), `l` (language), joined with ";" and sent
base64-encoded after the checkout address.
"""

import base64

from housing.settings import PaymeSettings

LANGUAGES = {"uz", "ru", "en"}


def checkout_link(
    settings: PaymeSettings, *, account_number: str, amount_minor: int, return_url: str, language: str
) -> str:
    params = [
        f"m={settings.merchant_id}",
        f"ac.{settings.account_field}={account_number}",
        f"a={amount_minor}",
        f"c={return_url}",
        f"l={language if language in LANGUAGES else 'ru'}",
    ]
    encoded = base64.b64encode(";".join(params).encode()).decode()
    return f"{settings.checkout_url.rstrip('/')}/{encoded}"
