-- A vendor's own database (vendoradb, vendorbdb, …): its stock, and the
-- allocations from ordersdb it has applied. vendor-sync decrements
-- products.stock and inserts the allocation id in one transaction, so an
-- allocation is applied at most once (the primary key refuses a second).

CREATE TABLE products (
    id          text PRIMARY KEY,
    name        text,
    stock       integer NOT NULL
                CONSTRAINT products_stock_nonnegative CHECK (stock >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applied_allocations (
    allocation_id  uuid PRIMARY KEY,
    order_id       uuid NOT NULL,
    product_id     text NOT NULL REFERENCES products (id),
    quantity       integer NOT NULL
                   CONSTRAINT applied_allocations_quantity_positive CHECK (quantity > 0),
    applied_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_allocations_product_idx ON applied_allocations (product_id);
