//! The floor `bench/serve/run.sh` measures `warden serve` against: a minimal axum handler that
//! returns a constant, on the same runtime (tokio, multi-threaded) and the same machine.
//! `serve-baseline ADDR` listens on ADDR (default 127.0.0.1:18090).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let app = axum::Router::new().route("/constant", axum::routing::get(|| async { "{\"state\":\"STARTED\"}" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serve-baseline: listening on http://{addr}");
    axum::serve(listener, app).await
}
