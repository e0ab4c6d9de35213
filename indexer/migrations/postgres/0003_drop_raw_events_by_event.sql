-- Nothing reads raw events by event name (`soil-indexer rebuild` reads them in chain order), and this
-- index cost about an eighth of the time SQLite spends writing raw events during a backfill.
DROP INDEX raw_events_by_event;
