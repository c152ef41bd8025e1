"""A buyer's whole purchase through a client generated from /openapi.json alone.

Signs in as the admin and sets up a shipping zone of its own (one made-up postal code in Indonesia) with a
flat-rate method: the fuzzer before it was an admin too, and may have deleted the demo's methods or
made a more specific zone without any. Then registers a new buyer, reads the product list, asks
for a shipping quote to that address, puts a variant of a physical product that ships there in a
cart, checks the cart out with the quoted method and the sandbox gateway, pays on the sandbox and
sees the order paid. Any answer other than the documented success, or one the generated models
cannot read, ends the run with a non-zero status.

Usage: python place_order.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD (with the generated package
`pasar_client` importable).
"""

import sys
import time
import uuid

from pasar_client import AuthenticatedClient, Client
from pasar_client.api.auth import login, register
from pasar_client.api.cart import add_item, open_cart
from pasar_client.api.catalog import list_products
from pasar_client.api.checkout import checkout
from pasar_client.api.orders import my_order
from pasar_client.api.sandbox import press_pay
from pasar_client.api.shipping import create_method, create_zone, quote
from pasar_client.models import (
    CheckoutRequest,
    CheckoutRequestPaymentMethod,
    CreateMethodRequest,
    CreateZoneRequest,
    LoginRequest,
    NewItem,
    ProductKind,
    RegisterRequest,
    ShippingAddress,
)


def expect(response, status, what):
    """The parsed body of a response with the expected status, or the end of the run."""
    if response.status_code != status or response.parsed is None:
        sys.exit(f"FAILED: {what}: expected {status}, got {response.status_code}: {response.content[:500]!r}")
    print(f"  ok: {what} ({response.status_code})")
    return response.parsed


def main(base_url, admin_email, admin_password):
    public = Client(base_url=base_url, raise_on_unexpected_status=True)

    # A zone of one postal code no fuzzer has named, and a method of this run's own carrying
    # anything there for Rp 12,000.
    run = uuid.uuid4().hex[:8]
    postal_code = str(10000000 + int(run, 16) % 90000000)
    staff = expect(
        login.sync_detailed(client=public, body=LoginRequest(email=admin_email, password=admin_password)),
        200,
        f"sign in as {admin_email}",
    )
    admin = AuthenticatedClient(base_url=base_url, token=staff.access_token, raise_on_unexpected_status=True)
    zone = expect(
        create_zone.sync_detailed(
            client=admin,
            body=CreateZoneRequest.from_dict(
                {"name": f"Generated client {run}", "country": "ID", "postal_prefixes": [postal_code]}
            ),
        ),
        201,
        f"create a shipping zone for postal code {postal_code}",
    )
    method_code = f"generated_{run}"
    expect(
        create_method.sync_detailed(
            client=admin,
            body=CreateMethodRequest.from_dict(
                {
                    "code": method_code,
                    "name": "Generated client courier",
                    "currency": "IDR",
                    "rate": {"type": "flat", "price": {"amount": 12000, "currency": "IDR"}},
                    "zone_ids": [zone.id],
                    "delivery_days": {"min": 1, "max": 2},
                }
            ),
        ),
        201,
        f"create the shipping method {method_code}",
    )
    email = f"openapi-{uuid.uuid4().hex[:12]}@example.com"
    tokens = expect(
        register.sync_detailed(
            client=public,
            body=RegisterRequest(email=email, password="generated-client-1", name="Generated Client"),
        ),
        201,
        f"register {email}",
    )
    buyer = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)

    # A physical variant with stock left (the fuzzer before us may have made products without
    # any, and sold some): the listing says what each variant has left.
    def available(variant):
        availability = getattr(variant, "availability", None)
        left = getattr(availability, "available", None)
        return isinstance(left, int) and left >= 1

    on_sale, cursor = [], None
    for _ in range(20):
        page = expect(
            list_products.sync_detailed(client=public, limit=100, **({"cursor": cursor} if cursor else {})),
            200,
            "list the products",
        )
        on_sale += [(p, v) for p in page.data if p.kind == ProductKind.PHYSICAL for v in p.variants if available(v)]
        cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
        # Every page: the newest products are the fuzzer's, and a method may carry none of them.
        if not cursor:
            break
    if not on_sale:
        sys.exit("FAILED: the product list has no physical variant with stock left")

    # A physical checkout names a method: ours, for the first variant it carries (the fuzzer's
    # products may be priced in other currencies than the method's).
    chosen = None
    for product, variant in on_sale:
        quoted = expect(
            quote.sync_detailed(client=public, items=f"{variant.id}:1", country="ID", postal_code=postal_code),
            200,
            f"quote shipping {variant.sku} to {postal_code}",
        )
        ours = [q for q in quoted.data if q.method == method_code]
        if ours:
            chosen = (product, variant, ours[0])
            break
    if chosen is None:
        sys.exit(f"FAILED: {method_code} carries no physical variant with stock to {postal_code}")
    product, variant, shipping = chosen

    cart = expect(open_cart.sync_detailed(client=buyer), 201, "open the buyer's cart")
    cart = expect(
        add_item.sync_detailed(cart.id, client=buyer, body=NewItem(variant_id=variant.id, quantity=1)),
        200,
        f"put {variant.sku} ({product.name}) in the cart",
    )
    if not any(line.variant_id == variant.id for line in cart.items):
        sys.exit(f"FAILED: the cart does not hold {variant.id}: {cart.to_dict()}")

    placed = expect(
        checkout.sync_detailed(
            client=buyer,
            idempotency_key=str(uuid.uuid4()),
            body=CheckoutRequest(
                cart_id=cart.id,
                payment_method=CheckoutRequestPaymentMethod.SANDBOX,
                shipping_method=shipping.method,
                shipping_address=ShippingAddress(
                    name="Ana",
                    phone="+62 812 3456 7890",
                    line1="Jl. Merdeka 1",
                    city="Jakarta",
                    postal_code=postal_code,
                    country="ID",
                ),
            ),
        ),
        201,
        f"check out the cart with the sandbox gateway, shipped {shipping.method}",
    )
    order_id = placed.order.id
    if placed.order.status.value != "pending_payment":
        sys.exit(f"FAILED: a new order should be pending_payment, not {placed.order.status.value}")
    if placed.order.shipping.amount != shipping.price.amount:
        sys.exit(f"FAILED: the order charges {placed.order.shipping.amount} for shipping, the quote said {shipping.price.amount}")

    order = expect(my_order.sync_detailed(order_id, client=buyer), 200, f"read order {order_id}")
    if order.id != order_id or not any(line.variant_id == variant.id for line in order.lines):
        sys.exit(f"FAILED: order {order_id} does not hold the variant bought: {order.to_dict()}")

    # Pay on the sandbox's hosted page (its Pay button), then wait for the signed webhook.
    pay = press_pay.sync_detailed(placed.payment.id, client=public)
    if pay.status_code != 200:
        sys.exit(f"FAILED: pressing Pay on the sandbox answered {pay.status_code}: {pay.content[:300]!r}")
    print("  ok: paid on the sandbox (200)")
    for _ in range(100):
        order = expect(my_order.sync_detailed(order_id, client=buyer), 200, "read the order again")
        if order.status.value == "paid":
            break
        time.sleep(0.2)
    else:
        sys.exit(f"FAILED: order {order_id} is still {order.status.value} 20 s after the payment")
    print(f"OK: the generated client placed and paid order {order_id} ({order.total.amount} {order.total.currency})")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3])
