//! The floor `bench/serve/run.sh` measures `warden serve` against: a minimal axum handler that
//! returns a constant, on the same runtime (tokio, multi-threaded) and the same machine.
//! `serve-baseline ADDR` listens on ADDR (default 127.0.0.1:18090).

/// A page of three carts, as the data API answers `GET /api/data/Shop.Cart` in the benchmark.
const CARTS: &str = concat!(
    r#"{"objects":[{"id":10102,"entity":"Shop.Cart","Total":"1.00","Status":"Open"},"#,
    r#"{"id":10103,"entity":"Shop.Cart","Total":"2.00","Status":"Open"},"#,
    r#"{"id":10104,"entity":"Shop.Cart","Total":"3.00","Status":"Open"}],"total":3,"offset":0,"limit":100}"#
);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let app = axum::Router::new()
        .route("/constant", axum::routing::get(|| async { "{\"state\":\"STARTED\"}" }))
        // The data API's retrieve, answered with a constant page of three carts.
        .route(
            "/api/data/{entity}",
            axum::routing::get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], CARTS) }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serve-baseline: listening on http://{addr}");
    axum::serve(listener, app).await
}
