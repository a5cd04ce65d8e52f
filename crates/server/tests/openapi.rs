//! §12: the OpenAPI document served at /openapi.json is generated from the code and lists
//! every route of the router with its method, and nothing else.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use gongji_server::route_table;
use gongji_store::sqlite::SqliteStore;

#[test]
fn s12_every_route_is_in_the_openapi_document() {
    let mut app = TestApp::start("2024-03-01");
    let response = app.client.send("GET", "/openapi.json", &[], b"").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let document = response.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let table = route_table::<SqliteStore>();
    let routes: BTreeSet<(String, String)> = table.routes().iter().map(|(method, path)| (method.as_str().to_ascii_lowercase(), path.to_string())).collect();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "routes missing from /openapi.json: {missing:?}");
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    assert!(routes.len() >= 20);
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
}
