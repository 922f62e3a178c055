//! Operational endpoints and limits: per-token rate limit, health, readiness, metrics.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_a_scim_body() {
    let srv = TestServer::start_with(Backend::Sqlite, &["--rate-limit-per-token", "5"]).await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(srv.get("/Users?count=1").await.status.as_u16());
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&429), "the 6th request within a second is over the rate: {statuses:?}");
    let r = loop {
        let r = srv.get("/Users").await;
        if r.status.as_u16() == 429 {
            break r;
        }
    };
    r.expect_scim_error(429);
    assert_eq!(r.header("retry-after"), Some("1"));
    // Another token of the same service has its own allowance.
    let other = srv.new_token("default").await;
    srv.request_as(&other, Method::GET, "/Users", None).await.expect(200);
    // The allowance refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    srv.get("/Users").await.expect(200);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let health = srv.client.get(format!("{}/healthz", srv.root_url)).send().await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let ready = srv.client.get(format!("{}/readyz", srv.root_url)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    srv.post("/Users", &json!({"userName": "metrics@contoso.com"})).await.expect(201);
    srv.get("/Users/does-not-exist").await.expect_scim_error(404);
    // Any token is a method to HTTP; a label set per invented method would grow without bound.
    let invented = Method::from_bytes(b"FROBNICATE").expect("method token");
    srv.request_as(&srv.token, invented, "/Users", None).await.expect_scim_error(405);
    let text =
        srv.client.get(format!("{}/metrics", srv.root_url)).send().await.expect("metrics").text().await.expect("body");
    for needle in [
        r#"scimd_http_requests_total{route="/scim/v2/Users",method="POST",status="201"} 1"#,
        r#"scimd_http_requests_total{route="/scim/v2/Users/{id}",method="GET",status="404"} 1"#,
        "scimd_http_request_duration_seconds_bucket",
        r#"scimd_provisioning_errors_total{service="default"}"#,
        "scimd_outbox_pending",
        "scimd_outbox_dead",
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics:\n{text}");
    }
    // Route templates, never raw ids: no unbounded label sets.
    assert!(!text.contains("does-not-exist"));
    assert!(
        text.contains(r#"scimd_http_requests_total{route="/scim/v2/Users",method="other",status="405"} 1"#),
        "{text}"
    );
    assert!(!text.contains("FROBNICATE"));
}
