-- The output URI is a field of the signed receipt (the `receipt` column), so it is no longer kept apart.
-- Receipts signed before this version commit to another EIP-712 type and settle only on the escrow they
-- were signed for; settle or drop them with the previous client first.
ALTER TABLE receipts DROP COLUMN output_uri;
