//! The one way a route is registered. Every module of the JSON API ([`crate::routes`]) and of
//! the web pages ([`crate::web`]) lists its routes in its `routes()` with [`RouteTable::add`]
//! (method, path, handler); [`crate::route_table`] merges the API's, `web::routes` the pages',
//! and [`crate::app`] serves both. The table keeps the list of what it routes, so the OpenAPI
//! test compares the very list the router serves.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use gongji_store::Store;

use crate::state::AppState;

/// Routes, each added with its method, and the router that serves them.
pub struct RouteTable<S: Store + 'static> {
    router: Router<AppState<S>>,
    routes: Vec<(Method, &'static str)>,
}

impl<S: Store + 'static> RouteTable<S> {
    pub(crate) fn new() -> RouteTable<S> {
        RouteTable { router: Router::new(), routes: Vec::new() }
    }

    /// Routes `method` on `path` to `handler`. A path added with two methods serves both.
    pub(crate) fn add<H: Handler<T, AppState<S>>, T: 'static>(mut self, method: Method, path: &'static str, handler: H) -> RouteTable<S> {
        let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path));
        self
    }

    /// Both tables' routes.
    pub(crate) fn merge(mut self, other: RouteTable<S>) -> RouteTable<S> {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    /// Wraps the routes added so far (the web pages' guard, a layer of theirs only).
    pub(crate) fn wrap(mut self, wrap: impl FnOnce(Router<AppState<S>>) -> Router<AppState<S>>) -> RouteTable<S> {
        self.router = wrap(self.router);
        self
    }

    /// Every route as (method, path), in the order added.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    pub(crate) fn into_router(self) -> Router<AppState<S>> {
        self.router
    }
}
