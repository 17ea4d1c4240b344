-- Fewer foreign-key checks per allocation row. The order-worker inserts one
-- allocation per order line, thousands per second, and every foreign key is
-- a trigger that looks up (and key-share locks) its parent row: the four keys
-- were half of the worker's database time.
--   * allocations_line_fk already proves the order exists (order_lines
--     references orders), so allocations_order_id_fkey adds nothing;
--   * an allocation takes stock from one vendor's row for one product, so one
--     key to that vendor_stock row replaces the keys to vendors and products
--     (vendor_stock references both).
ALTER TABLE allocations
    DROP CONSTRAINT allocations_order_id_fkey,
    DROP CONSTRAINT allocations_vendor_id_fkey,
    DROP CONSTRAINT allocations_product_id_fkey,
    ADD CONSTRAINT allocations_stock_fk FOREIGN KEY (product_id, vendor_id) REFERENCES vendor_stock (product_id, vendor_id);
