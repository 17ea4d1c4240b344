-- ordersdb: vendors, products, per-vendor stock, orders, their lines and
-- their vendor allocations. Applied by `orderctl db migrate` inside one
-- transaction together with its schema_migrations row (no BEGIN/COMMIT here).

-- A vendor is one of the VENDOR_DATABASE_URLS names (vendorA, vendorB, …).
CREATE TABLE vendors (
    id          text PRIMARY KEY
                CONSTRAINT vendors_id_format CHECK (id ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id          text PRIMARY KEY
                CONSTRAINT products_id_format CHECK (id ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Stock per (vendor, product); a product's available stock is the sum over
-- its vendors. `stock` is the local available figure: the vendor's reported
-- stock minus allocations the vendor has not applied yet (see DESIGN.md,
-- "Stock across vendors"). The primary key leads with product_id so the
-- worker locks a product's rows in (product_id, vendor_id) order FOR UPDATE.
CREATE TABLE vendor_stock (
    product_id  text NOT NULL REFERENCES products (id),
    vendor_id   text NOT NULL REFERENCES vendors (id),
    stock       integer NOT NULL
                CONSTRAINT vendor_stock_stock_nonnegative CHECK (stock >= 0),
    synced_at   timestamptz,                       -- last stock-sync from the vendor, NULL before the first
    PRIMARY KEY (product_id, vendor_id)
);
CREATE INDEX vendor_stock_vendor_idx ON vendor_stock (vendor_id);

-- One row per processed order (written by the worker; the API only enqueues).
-- id is the order id the API answered with, so redelivery cannot apply an
-- order twice; idempotency_key is the client's Idempotency-Key header.
CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    idempotency_key  text UNIQUE
                     CONSTRAINT orders_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    status           text NOT NULL
                     CONSTRAINT orders_status_valid CHECK (status IN ('CONFIRMED', 'REJECTED', 'FAILED')),
    reason           text,                          -- why REJECTED / FAILED
    review_required  boolean NOT NULL DEFAULT false,
    review_reason    text,
    queued_at        timestamptz,                   -- when the API accepted it (from the message)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_reason_required CHECK (status = 'CONFIRMED' OR reason IS NOT NULL)
);
CREATE INDEX orders_review_idx ON orders (created_at) WHERE review_required;

-- Lines are numbered from 1 in request order. product_id is deliberately not
-- a foreign key: a REJECTED order records the unknown product it asked for.
CREATE TABLE order_lines (
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no     integer NOT NULL
                CONSTRAINT order_lines_line_no_positive CHECK (line_no >= 1),
    product_id  text NOT NULL,
    quantity    integer NOT NULL
                CONSTRAINT order_lines_quantity_range CHECK (quantity BETWEEN 1 AND 1000000),
    PRIMARY KEY (order_id, line_no)
);

-- How a CONFIRMED line was split across vendors. id is the allocation id the
-- vendor database records as applied (vendor-sync is idempotent by it).
-- PENDING until vendor-sync applied it (APPLIED) or the vendor refused it
-- (CONFLICTED); stock-sync subtracts the allocations a vendor has not applied.
CREATE TABLE allocations (
    id          uuid PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no     integer NOT NULL,
    vendor_id   text NOT NULL REFERENCES vendors (id),
    product_id  text NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL
                CONSTRAINT allocations_quantity_positive CHECK (quantity > 0),
    status      text NOT NULL DEFAULT 'PENDING'
                CONSTRAINT allocations_status_valid CHECK (status IN ('PENDING', 'APPLIED', 'CONFLICTED')),
    applied_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allocations_line_fk FOREIGN KEY (order_id, line_no)
        REFERENCES order_lines (order_id, line_no) ON DELETE CASCADE,
    CONSTRAINT allocations_applied_at_set CHECK (status <> 'APPLIED' OR applied_at IS NOT NULL)
);
CREATE INDEX allocations_vendor_status_idx ON allocations (vendor_id, status);
CREATE INDEX allocations_order_idx ON allocations (order_id);
