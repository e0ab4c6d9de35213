-- The chain's bytes of every string an event carries (see src/store/SCHEMA.md, "Changes since the first
-- migration"), beside its text, as receipts.output_uri_bytes already was: 0x hex, only where the stored
-- text is not them (they were not UTF-8, or held a NUL), NULL otherwise. Same number and the same
-- columns on PostgreSQL.
ALTER TABLE datanets ADD COLUMN metadata_uri_bytes TEXT;
ALTER TABLE contributions ADD COLUMN uri_bytes TEXT;
ALTER TABLE models ADD COLUMN uri_bytes TEXT;
ALTER TABLE models ADD COLUMN manifest_uri_bytes TEXT;
