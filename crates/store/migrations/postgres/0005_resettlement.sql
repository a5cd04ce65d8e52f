-- ST6: a bill whose settlement was cancelled settles again as a new settlement. The n-th
-- settlement of one institution's bill is `attempt` n; the earlier ones stay, cancelled (nothing
-- is deleted). At most one settlement of a bill is not cancelled at any time.
ALTER TABLE settlements ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
ALTER TABLE settlements DROP CONSTRAINT settlements_institution_bill_id_key;
ALTER TABLE settlements ADD CONSTRAINT settlements_bill_attempt UNIQUE (institution, bill_id, attempt);
CREATE UNIQUE INDEX settlements_live ON settlements (institution, bill_id) WHERE cancel_entry_id IS NULL;

-- B1, ST10: only a person's CUR, HIS and MUT earn interest, so only they keep a daily-balance
-- product; the products kept so far for system accounts (which every bill of an area moves,
-- and which could overflow) are dropped.
UPDATE account_balances b SET product_fen_days = 0 FROM accounts a
WHERE a.id = b.account_id AND (a.owner IS NULL OR a.kind NOT IN ('cur', 'his', 'mut'));
