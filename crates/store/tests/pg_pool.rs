//! The PostgreSQL connection pool counts every connection it holds: the one opened for the
//! migrations too. Before, that one was not counted, so a connection discarded while no other
//! was taken (a panic inside `write`) took the count below zero: a panic in debug builds, and in
//! release builds a count that wrapped round, after which the store never opened a connection
//! again. Runs when `GONGJI_TEST_DATABASE_URL` names a server.
#![cfg(feature = "postgres")]

use gongji_store::postgres::{ScratchDatabase, POOL_CONNECTIONS_MAX};
use gongji_store::{Store, StoreError};

#[test]
fn the_pool_counts_the_migration_connection_and_survives_a_panic_inside_write() {
    let Ok(url) = std::env::var("GONGJI_TEST_DATABASE_URL") else {
        eprintln!("skipped: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let database = ScratchDatabase::create(&url, "gongji_pool").unwrap();
    let store = database.store().unwrap();
    assert_eq!(store.connections_open(), 1, "the migrations' connection is in the pool, counted");
    // A panic inside the transaction drops its connection mid-transaction: it is discarded.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), StoreError> = store.write(|_tx| panic!("a bug inside a transaction"));
    }));
    assert!(panicked.is_err());
    assert_eq!(store.connections_open(), 0, "the discarded connection is no longer counted");
    // The store opens new connections again, for many threads at once, and never more than
    // its maximum.
    std::thread::scope(|scope| {
        for _ in 0..POOL_CONNECTIONS_MAX + 4 {
            scope.spawn(|| {
                store
                    .read(|tx| {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        tx.person_areas()
                    })
                    .unwrap()
            });
        }
    });
    assert!((1..=POOL_CONNECTIONS_MAX).contains(&store.connections_open()), "{} open", store.connections_open());
    drop(store);
    drop(database);
}
