//! The S3 server the tests talk to: `ESTEIRA_TEST_S3_ENDPOINT` (loopback only; `.ci/ceph-up.sh`
//! starts a Ceph RADOS gateway there) and its keys.

/// The endpoint without a trailing `/`, or `None` (after printing `SKIPPED: no S3`) when it is
/// not set and `ESTEIRA_REQUIRE_S3` is not `1`. Panics on an endpoint that is not on loopback:
/// tests never leave the machine.
pub fn endpoint() -> Option<String> {
    let Ok(ep) = std::env::var("ESTEIRA_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("ESTEIRA_REQUIRE_S3").as_deref() != Ok("1"),
            "ESTEIRA_REQUIRE_S3=1 but ESTEIRA_TEST_S3_ENDPOINT is not set (start .ci/ceph-up.sh)"
        );
        println!("SKIPPED: no S3");
        return None;
    };
    assert!(
        ep.starts_with("http://127.0.0.1:") || ep.starts_with("http://localhost:"),
        "ESTEIRA_TEST_S3_ENDPOINT={ep}: the tests only talk to 127.0.0.1"
    );
    Some(ep.trim_end_matches('/').to_owned())
}

/// Access key and secret: the `AWS_*` variables when set, else `.ci/ceph-up.sh`'s defaults.
pub fn keys() -> (String, String) {
    (
        std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "esteira".into()),
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "esteira-secret".into()),
    )
}
