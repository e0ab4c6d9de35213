-- Every reorg the indexer undid, in order: written in the revert's own transaction, so a reader that
-- remembers the last reorg it saw learns of each later one and of the block the store went back to
-- (the GraphQL subscriptions rewind their cursors by it; operators read it as the reorg history).
CREATE TABLE reorgs (
    reorg_id BIGINT PRIMARY KEY,
    reverted_from BIGINT NOT NULL,
    reverted_to BIGINT NOT NULL,
    undone BIGINT NOT NULL,
    at BIGINT NOT NULL
);
