"""Click's checkout link: where the pay page sends the payer (Click's "pay button" link).

The query names our service and merchant, the amount in som (two decimals), our personal
account as `transaction_param` (Click sends it back to us as `merchant_trans_id`) and the
address Click returns the payer to.
"""

from decimal import Decimal
from urllib.parse import urlencode

from housing.settings import ClickSettings


def checkout_link(settings: ClickSettings, *, account_number: str, amount_minor: int, return_url: str) -> str:
    query = urlencode(
        {
            "service_id": settings.service_id,
            "merchant_id": settings.merchant_id,
            "amount": f"{Decimal(amount_minor).scaleb(-2):.2f}",
            "transaction_param": account_number,
            "return_url": return_url,
        }
    )
    return f"{settings.checkout_url}?{query}"
