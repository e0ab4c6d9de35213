-- Every TEXT column holds hex (ids, hashes, addresses), a decimal amount, an event or contract name, a
-- URI or JSON: none is language text. Under a database's default collation (en_US.UTF-8, or glibc's
-- C.UTF-8 on PostgreSQL before 17) each comparison of two of them goes through strcoll(), and every
-- insert into a B-tree keyed on a hash (raw_events' primary key, the edges', the receipts') makes a
-- dozen such comparisons; index builds sort without abbreviated keys. Byte order ("C") is what SQLite
-- compares by (BINARY), so both backends order keys and cursors alike, and it is memcmp. The stages of
-- the COPY path (store/copy.rs) are made LIKE these tables and take the collation with them.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE TEXT COLLATE "C"', c.column_name), ', ') AS clauses
        FROM information_schema.columns c
        JOIN information_schema.tables tb USING (table_schema, table_name)
        WHERE c.table_schema = current_schema()
          AND tb.table_type = 'BASE TABLE'
          AND c.data_type = 'text'
          AND c.table_name NOT LIKE '\_sqlx%'
        GROUP BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.clauses);
    END LOOP;
END $$;
