-- Payments (DESIGN.md "Payments", issue 14): product prices, the price each
-- line was sold at, the order's payment as the order worker knows it, its
-- refunds, the gateway intent the payment worker made for each order, and the
-- webhook events already taken.

-- A price in minor units (cents) and its ISO 4217 currency, both or neither:
-- an order that pays can only buy priced products.
ALTER TABLE products ADD COLUMN price_minor bigint
    CONSTRAINT products_price_not_negative CHECK (price_minor >= 0);
ALTER TABLE products ADD COLUMN currency text
    CONSTRAINT products_currency_format CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE products ADD CONSTRAINT products_price_and_currency
    CHECK ((price_minor IS NULL) = (currency IS NULL));

-- The unit price of a line when its order's stock was held for a payment: what
-- a return refunds per unit, whatever the product costs later.
ALTER TABLE order_lines ADD COLUMN unit_price_minor bigint;

-- The order's payment: written only by the order worker, in the transaction of
-- the transition it belongs to (one writer of order state). amount_minor is
-- computed from product prices when the stock is held, never taken from the client.
CREATE TABLE payments (
    order_id        uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    method          text NOT NULL,
    amount_minor    bigint NOT NULL CONSTRAINT payments_amount_positive CHECK (amount_minor > 0),
    currency        text NOT NULL CONSTRAINT payments_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    status          text NOT NULL CONSTRAINT payments_status_valid CHECK (status IN (
                        'PENDING', 'REQUIRES_ACTION', 'AUTHORIZED', 'CAPTURED', 'VOIDED', 'DECLINED', 'REFUNDED')),
    intent_id       text,
    captured_minor  bigint NOT NULL DEFAULT 0 CONSTRAINT payments_captured_range CHECK (captured_minor BETWEEN 0 AND amount_minor),
    refunded_minor  bigint NOT NULL DEFAULT 0 CONSTRAINT payments_refunded_range CHECK (refunded_minor BETWEEN 0 AND captured_minor),
    -- The decline code, or why an operator should look (a void or refund the gateway refused).
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Each refund asked for: step is the idempotency step of its command
-- (refund-<transition seq>), so a redelivered outcome counts once.
CREATE TABLE payment_refunds (
    order_id      uuid NOT NULL REFERENCES payments (order_id) ON DELETE CASCADE,
    step          text NOT NULL,
    amount_minor  bigint NOT NULL CONSTRAINT payment_refunds_amount_positive CHECK (amount_minor > 0),
    status        text NOT NULL DEFAULT 'REQUESTED'
                  CONSTRAINT payment_refunds_status_valid CHECK (status IN ('REQUESTED', 'SUCCEEDED', 'FAILED')),
    refund_id     text,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    settled_at    timestamptz,
    PRIMARY KEY (order_id, step)
);

-- The payment worker's own record: the gateway intent it created for an order,
-- written before the intent is confirmed, so a redelivered authorize confirms
-- that intent instead of creating a second one (localstripe ignores
-- Idempotency-Key; Stripe honours it, and both are sent). No order state here.
CREATE TABLE payment_intents (
    order_id    uuid PRIMARY KEY,
    intent_id   text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Stripe webhook events taken (POST /webhooks/stripe): a redelivery of an
-- event id is answered 200 and changes nothing.
CREATE TABLE stripe_webhook_events (
    event_id     text PRIMARY KEY,
    type         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
