-- The Idempotency-Key of each accepted return (POST /orders/{id}/returns),
-- with what it returned, so a client that retries a return (a timeout, a
-- lost answer) gets the same answer and nothing is restocked twice; the same
-- key with other items is refused. Keys are per order.
CREATE TABLE order_return_requests (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL
                     CONSTRAINT order_return_requests_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    items            text NOT NULL,             -- the returned units, per product: "p1=2,p2=1" (sorted by product)
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, idempotency_key)
);
