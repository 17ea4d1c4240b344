-- Generalises applied_allocations to every vendor-bound stock movement
-- (DESIGN.md "Stock movements"): an allocation takes stock, a restock (a
-- cancellation after the vendor was told, a return) gives it back. Each
-- movement id is recorded in the same transaction as the stock change, so a
-- movement is applied at most once whatever is redelivered or replayed.
ALTER TABLE applied_allocations RENAME TO applied_movements;
ALTER TABLE applied_movements RENAME COLUMN allocation_id TO movement_id;
ALTER TABLE applied_movements ADD COLUMN kind text NOT NULL DEFAULT 'allocate'
    CONSTRAINT applied_movements_kind_valid CHECK (kind IN ('allocate', 'restock'));
ALTER TABLE applied_movements ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE applied_movements RENAME CONSTRAINT applied_allocations_quantity_positive TO applied_movements_quantity_positive;
ALTER INDEX applied_allocations_pkey RENAME TO applied_movements_pkey;
ALTER INDEX applied_allocations_product_idx RENAME TO applied_movements_product_idx;
