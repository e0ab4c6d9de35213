-- LoRA adapters (see src/store/SCHEMA.md, "Changes since the first migration"). Same number and the same
-- tables on PostgreSQL, whose TEXT columns are in byte order ("C") besides.
--
-- An adapter is a model with a base (AdapterRegistered): its base, the derivative share each of its
-- receipts pays the base's owner, its training manifest; a whole model has NULL there. A whole model's
-- owner declares the share adapters registered on it later pay (DerivativeShareSet). Revenue: an
-- adapter's receipts pay base_revenue to its base's owner (out of the owner share, so owner_revenue is
-- what its own owner got); a base model's derivative_revenue is what adapters on it paid its owner.
ALTER TABLE models ADD COLUMN base_model_id BIGINT;
ALTER TABLE models ADD COLUMN base_share_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN manifest_hash TEXT;
ALTER TABLE models ADD COLUMN manifest_uri TEXT;
ALTER TABLE models ADD COLUMN derivative_share_bps BIGINT NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN base_revenue TEXT NOT NULL DEFAULT '0';
ALTER TABLE models ADD COLUMN derivative_revenue TEXT NOT NULL DEFAULT '0';
-- Model.adapters, and the graph's walk from a base to its adapters.
CREATE INDEX models_by_base ON models (base_model_id, model_id);

-- A receipt of an adapter: the part of the fee paid to the base model's owner (then its owner).
ALTER TABLE receipts ADD COLUMN base_amount TEXT NOT NULL DEFAULT '0';
ALTER TABLE receipts ADD COLUMN base_owner TEXT;

-- The part of owner_earnings paid by adapters on the account's models.
ALTER TABLE accounts ADD COLUMN derivative_earnings TEXT NOT NULL DEFAULT '0';

-- Σ derivative shares paid to base owners (not in owner_revenue: the parts still sum to fees).
ALTER TABLE totals ADD COLUMN base_revenue TEXT NOT NULL DEFAULT '0';

-- The releases an adapter was trained on (AdapterRegistered), in the event's order.
CREATE TABLE model_trained_on (
    model_id BIGINT NOT NULL,
    release_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (model_id, release_id)
);
CREATE INDEX model_trained_on_by_release ON model_trained_on (release_id, model_id);
