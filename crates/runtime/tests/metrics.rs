//! The metrics endpoint over real HTTP on a port the OS picks.

use std::net::SocketAddr;
use std::time::Duration;

use orrery_runtime::{Metrics, QueueConfig, Shutdown, WorkQueue, run_workers, serve_metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Response {
    status: u16,
    head: String,
    body: String,
}

/// A minimal HTTP/1.1 GET, so the test needs no HTTP client crate.
async fn get(addr: SocketAddr, path: &str) -> Result<Response, Box<dyn std::error::Error>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head.split(' ').nth(1).ok_or("no status")?.parse()?;
    Ok(Response { status, head: head.to_ascii_lowercase(), body: body.to_owned() })
}

#[tokio::test]
async fn metrics_endpoint_shows_reconciles() -> TestResult {
    let shutdown = Shutdown::new();
    let metrics = Metrics::new();
    let server = serve_metrics("127.0.0.1:0".parse()?, metrics.clone(), shutdown.clone()).await?;
    let addr = server.local_addr();

    let queue = WorkQueue::<String>::new(QueueConfig::named("demo").metrics(&metrics));
    queue.shutdown_on(&shutdown);
    let (reconciled, mut reconciles) = mpsc::unbounded_channel();
    let workers = tokio::spawn(run_workers(queue.clone(), 1, move |key: String| {
        let reconciled = reconciled.clone();
        async move { reconciled.send(key).map_err(|e| e.to_string()) }
    }));
    queue.add("default/thing".to_owned());
    let key = tokio::time::timeout(Duration::from_secs(10), reconciles.recv()).await?;
    assert_eq!(key.as_deref(), Some("default/thing"));

    // The counter is bumped right after the reconcile returns; poll the endpoint until then.
    let want = r#"orrery_reconcile_total{controller="demo",result="success"} 1"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = get(addr, "/metrics").await?;
        if page.body.lines().any(|l| l == want) || tokio::time::Instant::now() > deadline {
            break page;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(page.status, 200);
    assert!(page.body.lines().any(|l| l == want), "missing {want:?} in:\n{}", page.body);
    assert!(page.body.contains(r#"orrery_reconcile_duration_seconds_bucket{le="#), "{}", page.body);
    assert!(page.body.contains(r#"orrery_workqueue_depth{controller="demo"} 0"#), "{}", page.body);
    assert!(page.head.contains("content-type: application/openmetrics-text"), "{}", page.head);

    let health = get(addr, "/healthz").await?;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(get(addr, "/nope").await?.status, 404);

    // One signal stops the queue (so the workers) and the server.
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), workers).await??;
    tokio::time::timeout(Duration::from_secs(10), server.wait()).await??;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the endpoint is closed after shutdown");
    Ok(())
}

#[tokio::test]
async fn a_port_in_use_is_reported() -> TestResult {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let err =
        serve_metrics(taken.local_addr()?, Metrics::new(), Shutdown::new()).await.err().ok_or("bind should fail")?;
    assert!(err.to_string().contains("metrics endpoint"), "{err}");
    Ok(())
}
