-- The store's version (see src/store/SCHEMA.md): raised by one in the transaction of every write that
-- changes the projections (a batch with events, a revert, a rebuild), so a process serving the API
-- from the same database (`soil-indexer serve`) knows whether it has seen every write. Same number and
-- the same table on both stores.
CREATE TABLE store_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO store_version (id, version) VALUES (1, 0);
