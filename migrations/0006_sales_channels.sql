-- Sales channels and fulfilment (DESIGN.md "Sales channels and fulfilment",
-- issue 16): where an order came from, how a channel's SKUs map to products,
-- the Shopify webhooks already taken, what the warehouse reported, and the
-- stock figure each channel was last told.

-- The channel an order came in through (NULL: the HTTP API), with the
-- channel's own reference. The order id of a channel order is derived from
-- (channel, shop, channel order id), so one channel order is one order; the
-- index finds it by the channel's reference.
ALTER TABLE orders ADD COLUMN channel text
    CONSTRAINT orders_channel_format CHECK (channel ~ '^[a-z][a-z0-9_-]{0,31}$');
ALTER TABLE orders ADD COLUMN channel_shop text;
ALTER TABLE orders ADD COLUMN channel_order_id text;
ALTER TABLE orders ADD COLUMN channel_order_name text;
ALTER TABLE orders ADD CONSTRAINT orders_channel_reference
    CHECK ((channel IS NULL) = (channel_order_id IS NULL));
CREATE INDEX orders_channel_order_idx ON orders (channel, channel_order_id) WHERE channel IS NOT NULL;

-- A channel's SKU for a product, when it differs from the product id (without
-- a row, SKU = product id both ways). inventory_item_id is the channel's own
-- handle for the product's stock level (Shopify's InventoryItem id): only a
-- product that has one is pushed to the channel.
CREATE TABLE sku_mappings (
    channel            text NOT NULL,
    sku                text NOT NULL CONSTRAINT sku_mappings_sku_length CHECK (char_length(sku) BETWEEN 1 AND 255),
    product_id         text NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    inventory_item_id  bigint,
    PRIMARY KEY (channel, sku),
    CONSTRAINT sku_mappings_one_sku_per_product UNIQUE (channel, product_id)
);

-- Shopify webhook deliveries already taken (X-Shopify-Webhook-Id), so a
-- redelivery is answered without enqueueing again. outcome says what the
-- delivery became (enqueued, cancelled, dead-lettered, ignored).
CREATE TABLE shopify_webhook_events (
    webhook_id   text PRIMARY KEY,
    topic        text NOT NULL,
    shop         text NOT NULL,
    outcome      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- The warehouse's parcels for an order and the last carrier scan of each.
CREATE TABLE shipments (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    tracking_number  text NOT NULL CONSTRAINT shipments_tracking_length CHECK (char_length(tracking_number) BETWEEN 1 AND 255),
    carrier          text,
    status           text NOT NULL CONSTRAINT shipments_status_valid CHECK (status IN ('SHIPPED', 'IN_TRANSIT', 'DELIVERED')),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, tracking_number)
);

-- The available figure each channel was last told for each product, and
-- when: the push loop sends only what differs, reconciliation corrects drift.
CREATE TABLE channel_stock (
    channel     text NOT NULL,
    product_id  text NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    available   integer NOT NULL,
    pushed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, product_id)
);
