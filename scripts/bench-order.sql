-- pgbench script for scripts/bench, part (a): the order-worker's per-order
-- transaction (Sources/OrderStore/OrderApplier.swift) for an order of one line
-- of quantity 1, statement for statement: look the order id up FOR UPDATE,
-- lock the product's stock rows FOR UPDATE in (product, vendor) order,
-- decrement, insert the order, its history row (QUEUED → CONFIRMED, seq 1),
-- its line and its allocate movement (PENDING until vendor-sync applies it), commit.
-- Run with -M prepared and:
--   -D prefix=bench-u- -D products=1000   uniform over bench-u-0001 … bench-u-1000 (ids: BenchProduct)
--   -D prefix=bench-h- -D products=1      all on bench-h-0001
--   -D vendor=vendorA                      the vendor that stocks the bench products
-- The order id is derived from the client id and a 63-bit random number.
\set n random(1, :products)
\set r random(1, 9223372036854775806)
BEGIN;
SELECT status FROM orders WHERE id = md5(:client_id::text || '-' || :r::text)::uuid FOR UPDATE;
SELECT vendor_id, product_id, stock FROM vendor_stock
    WHERE product_id = ANY (ARRAY[:prefix::text || lpad(:n::text, greatest(4, length(:n::text)), '0')])
    ORDER BY product_id, vendor_id FOR UPDATE;
-- \gset wants exactly one row: a missing stock row fails the transaction instead of
-- passing as an order that locked and decremented nothing.
UPDATE vendor_stock SET stock = stock - 1
    WHERE product_id = :prefix::text || lpad(:n::text, greatest(4, length(:n::text)), '0') AND vendor_id = :vendor::text
    RETURNING stock AS left_in_stock \gset
INSERT INTO orders (id, idempotency_key, status, reason, queued_at, last_seq)
    VALUES (md5(:client_id::text || '-' || :r::text)::uuid, NULL, 'CONFIRMED', NULL, now(), 1);
INSERT INTO order_transitions (order_id, seq, event_id, from_status, to_status, cause, actor)
    VALUES (md5(:client_id::text || '-' || :r::text)::uuid, 1, gen_random_uuid(), 'QUEUED', 'CONFIRMED', 'stock-allocated', 'system');
INSERT INTO order_lines (order_id, line_no, product_id, quantity)
    VALUES (md5(:client_id::text || '-' || :r::text)::uuid, 1, :prefix::text || lpad(:n::text, greatest(4, length(:n::text)), '0'), 1);
INSERT INTO stock_movements (id, kind, status, order_id, line_no, vendor_id, product_id, quantity)
    VALUES (gen_random_uuid(), 'allocate', 'PENDING', md5(:client_id::text || '-' || :r::text)::uuid, 1, :vendor::text,
            :prefix::text || lpad(:n::text, greatest(4, length(:n::text)), '0'), 1);
COMMIT;
