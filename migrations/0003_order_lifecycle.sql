-- The order lifecycle (DESIGN.md "Order lifecycle", "Stock movements",
-- "Events"): every state of the one state machine in OrderCore, the history
-- of each order's transitions, the stock-movement ledger (allocations become
-- one kind of movement), reservations (stock held until a deadline), the
-- transactional outbox, and each product's stock level for inventory events.

-- Every state of OrderCore's OrderState, and nothing else. A QUEUED order has
-- a row only once something happened to it before a worker did (a cancel);
-- until then GET recognises the id as the API's own (docs/order-ids.md).
ALTER TABLE orders DROP CONSTRAINT orders_status_valid;
ALTER TABLE orders ADD CONSTRAINT orders_status_valid CHECK (status IN (
    'QUEUED', 'REJECTED', 'RESERVED', 'PAYMENT_PENDING', 'PAID', 'CONFIRMED',
    'FULFILLING', 'SHIPPED', 'IN_TRANSIT', 'DELIVERED', 'CANCELLED', 'FAILED', 'RETURNED'));
ALTER TABLE orders DROP CONSTRAINT orders_reason_required;
ALTER TABLE orders ADD CONSTRAINT orders_reason_required
    CHECK (status NOT IN ('REJECTED', 'FAILED', 'CANCELLED') OR reason IS NOT NULL);
-- The sequence number of the order's latest transition (order_transitions.seq).
ALTER TABLE orders ADD COLUMN last_seq integer NOT NULL DEFAULT 0;
-- Until when a RESERVED / PAYMENT_PENDING order's stock is held.
ALTER TABLE orders ADD COLUMN reserved_until timestamptz;
-- The checkout hold (reservations.id) the order consumed, if it named one.
ALTER TABLE orders ADD COLUMN reservation_id uuid;

-- Units of a line that came back (RETURNED per line, partial allowed).
ALTER TABLE order_lines ADD COLUMN returned_quantity integer NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD CONSTRAINT order_lines_returned_range
    CHECK (returned_quantity BETWEEN 0 AND quantity);

-- The history: one row per committed transition, numbered from 1 per order.
-- event_id is the id of the order_events message that announces it
-- (its AMQP message_id), so a re-publication carries the same id.
CREATE TABLE order_transitions (
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    seq          integer NOT NULL CONSTRAINT order_transitions_seq_positive CHECK (seq >= 1),
    event_id     uuid NOT NULL UNIQUE,
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    cause        text NOT NULL,                  -- the OrderCore event: accepted, cancel, reservation-expired, …
    actor        text NOT NULL CONSTRAINT order_transitions_actor_valid CHECK (actor IN ('customer', 'operator', 'system')),
    reason       text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, seq)
);

-- Reservations: stock held until expires_at. A checkout hold
-- (POST /inventory/reservations) has no order until an order consumes it; a
-- RESERVED order's hold has its order. The held units are the reservation's
-- `hold` movements; ending it writes `release` movements.
CREATE TABLE reservations (
    id          uuid PRIMARY KEY,
    order_id    uuid REFERENCES orders (id) ON DELETE SET NULL,
    status      text NOT NULL DEFAULT 'ACTIVE'
                CONSTRAINT reservations_status_valid CHECK (status IN ('ACTIVE', 'CONSUMED', 'RELEASED', 'EXPIRED')),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    CONSTRAINT reservations_ended_at_set CHECK ((status = 'ACTIVE') = (ended_at IS NULL))
);
-- The sweeper's scan: live holds by deadline.
CREATE INDEX reservations_active_expiry_idx ON reservations (expires_at) WHERE status = 'ACTIVE';

-- The ledger. Every change of local stock (vendor_stock.stock) is a movement:
--   allocate  −quantity  an order takes stock; the vendor is told (vendor_sync)
--   hold      −quantity  a reservation holds stock; local only
--   release   +quantity  a hold ends (expired, released, cancelled, consumed); local only
--   restock   +quantity  stock comes back (a cancel after the vendor was told, a return); the vendor is told
-- The vendor-bound kinds are PENDING until vendor-sync applied them (APPLIED)
-- or the vendor refused them (CONFLICTED); local kinds are LOCAL. Hence, for
-- every (vendor, product): initial = stock + Σallocate + Σhold − Σrelease − Σrestock.
ALTER TABLE allocations RENAME TO stock_movements;
ALTER TABLE stock_movements ADD COLUMN kind text NOT NULL DEFAULT 'allocate'
    CONSTRAINT stock_movements_kind_valid CHECK (kind IN ('allocate', 'hold', 'release', 'restock'));
ALTER TABLE stock_movements ADD COLUMN reservation_id uuid REFERENCES reservations (id);
ALTER TABLE stock_movements ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE stock_movements ALTER COLUMN line_no DROP NOT NULL;
ALTER TABLE stock_movements DROP CONSTRAINT allocations_status_valid;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_status_valid CHECK (
    (kind IN ('allocate', 'restock') AND status IN ('PENDING', 'APPLIED', 'CONFLICTED'))
    OR (kind IN ('hold', 'release') AND status = 'LOCAL'));
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_owner CHECK (order_id IS NOT NULL OR reservation_id IS NOT NULL);
ALTER TABLE stock_movements RENAME CONSTRAINT allocations_quantity_positive TO stock_movements_quantity_positive;
ALTER TABLE stock_movements RENAME CONSTRAINT allocations_applied_at_set TO stock_movements_applied_at_set;
ALTER TABLE stock_movements RENAME CONSTRAINT allocations_line_fk TO stock_movements_line_fk;
ALTER TABLE stock_movements RENAME CONSTRAINT allocations_stock_fk TO stock_movements_stock_fk;
ALTER INDEX allocations_pkey RENAME TO stock_movements_pkey;
ALTER INDEX allocations_vendor_status_idx RENAME TO stock_movements_vendor_status_idx;
ALTER INDEX allocations_order_idx RENAME TO stock_movements_order_idx;
CREATE INDEX stock_movements_reservation_idx ON stock_movements (reservation_id) WHERE reservation_id IS NOT NULL;

-- The transactional outbox: messages a transaction implies that are not
-- driven by an incoming message (an API cancel, the sweeper, a reallocation,
-- inventory events). The relay publishes them in id order with confirms and
-- deletes them; id order is commit order within one order, because every
-- transition of an order holds its row lock until commit.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    exchange        text NOT NULL,               -- '' for the default exchange (a queue by name)
    routing_key     text NOT NULL,
    message_id      text NOT NULL,
    correlation_id  text,
    type            text NOT NULL,
    body            text NOT NULL,                -- JSON
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Where each product stands against LOW_STOCK_THRESHOLD, so an
-- inventory.* event is sent once per crossing, not once per order.
CREATE TABLE product_stock_levels (
    product_id  text PRIMARY KEY REFERENCES products (id),
    level       text NOT NULL CONSTRAINT product_stock_levels_level_valid CHECK (level IN ('IN_STOCK', 'LOW', 'OUT')),
    available   integer NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
