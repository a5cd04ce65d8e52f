-- The demo mark (issue 12 item 7): one row when `gongji serve --demo` created this store. It is
-- written in the transaction that finds the store without persons, before the demo families are
-- loaded. Only a marked store offers the web pages' one-click sign-in, and `serve --demo`
-- refuses a store that has persons but no mark (a real store).

CREATE TABLE demo_mark (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    created_at TEXT NOT NULL
);
