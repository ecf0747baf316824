//! The inflight bound over one HTTP/2 connection: writes queued for their turn must not
//! stall the writes already admitted on the same connection.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use orrery_spaceserver::server::{InflightLimits, ServerConfig, start};
use std::time::Duration;

/// A ConfigMap of about `size` bytes.
fn config_map(name: &str, size: usize) -> Bytes {
    let data = "x".repeat(size);
    Bytes::from(
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"d": data}})
            .to_string(),
    )
}

/// 40 creates of 100 KB each on one connection carry 4 MB, four times the server's
/// connection window. With one write served at a time, a bound that let queued writes keep
/// their bodies unread would leave the admitted write waiting for body bytes the client
/// cannot send: every create must still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_do_not_stall_one_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        inflight: InflightLimits { readonly: 400, mutating: 1 },
        ..ServerConfig::loopback_for_tests(dir.path().join("data"))
    };
    let server = start(config).await.expect("server starts");
    let tcp = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.expect("HTTP/2 handshake");
    tokio::spawn(connection);

    let uri = format!("http://{}/clusters/root/api/v1/namespaces/default/configmaps", server.addr);
    let writes = (0..40).map(|i| {
        let mut sender = sender.clone();
        let request = hyper::Request::post(&uri)
            .header("authorization", format!("Bearer {}", server.admin_token))
            .header("content-type", "application/json")
            .body(Full::new(config_map(&format!("cm{i}"), 100_000)))
            .expect("request");
        async move { sender.send_request(request).await.map(|r| r.status().as_u16()) }
    });
    let statuses = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(writes))
        .await
        .expect("all 40 writes answered within 60 s");
    for (i, status) in statuses.into_iter().enumerate() {
        assert_eq!(status.ok(), Some(201), "create {i}");
    }
}
