//! The JSON API, one module per resource (and per OpenAPI tag). Each module has its `routes()`
//! (the one way to register a route: `RouteTable::add`), its request and answer shapes, its
//! handlers and its part of the OpenAPI document (merged by [`crate::openapi`]). What several
//! resources share is in [`shared`], which depends on none of them.
//!
//! Every handler parses its request completely (extractors refuse bad input before any work),
//! then authenticates and calls the engine on the blocking pool through
//! [`AppState::call`](crate::AppState::call), checks the caller's rights (`Caller::may_*`, §12)
//! before anything is loaded, and answers with its shape or a problem.

pub mod family;
pub mod fsi;
pub mod jobs;
pub mod networks;
pub mod outbox;
pub mod persons;
pub mod queries;
pub mod service;
pub mod settlement;
pub mod shared;
pub(crate) mod table;
pub mod transfers;

use gongji_store::Store;

pub use table::RouteTable;

/// Every route of the JSON API (the web pages are [`crate::web::routes`]).
pub fn route_table<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .merge(service::routes())
        .merge(crate::openapi::routes())
        .merge(persons::routes())
        .merge(transfers::routes())
        .merge(settlement::routes())
        .merge(queries::routes())
        .merge(networks::routes())
        .merge(family::routes())
        .merge(outbox::routes())
        .merge(jobs::routes())
        .merge(fsi::routes())
}
