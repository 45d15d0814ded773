//! Runs: push a run from one store, pull it into another; the environment-configured client.

use std::collections::BTreeMap;

use esteira_core::{ArtifactStore, ContentHash, LocalStore, RunRecord, RunStatus, StageRecord, StageStatus};
use esteira_remote::{RemoteStore, pull_run, push_run};

use crate::common::{TestRemote, bytes, one, record};

fn stage(
    kind: &str,
    key: ContentHash,
    inputs: BTreeMap<String, ContentHash>,
    outputs: BTreeMap<String, ContentHash>,
) -> StageRecord {
    StageRecord {
        kind: kind.into(),
        version: "1".into(),
        params: serde_json::json!({}),
        key: Some(key),
        status: StageStatus::Ran,
        input_sources: BTreeMap::new(),
        inputs,
        output_files: outputs.keys().map(|k| (k.clone(), format!("{k}.txt"))).collect(),
        output_media: BTreeMap::new(),
        outputs,
        metrics: BTreeMap::new(),
        start_ms: 0.0,
        end_ms: 1.0,
        error: None,
        remote_hit: false,
        job: None,
    }
}

#[test]
fn a_pushed_run_pulls_into_an_empty_store() {
    let Some(t) = TestRemote::new("runs") else { return };
    let remote = t.open();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = LocalStore::open(dirs.0.path()).unwrap();
    let h1 = a.put_bytes(&bytes(1, 10_000)).unwrap();
    let h2 = a.put_bytes(&bytes(2, 20_000)).unwrap();
    let r1 = record("source", serde_json::json!({}), BTreeMap::new(), one("text", h1), "20261202T000000Z-abcd");
    let r2 = record("upper", serde_json::json!({}), one("text", h1), one("text", h2), "20261202T000000Z-abcd");
    a.cache_put(&r1).unwrap();
    a.cache_put(&r2).unwrap();
    let run = RunRecord {
        id: "20261202T000000Z-abcd".into(),
        status: RunStatus::Succeeded,
        pipeline: "esteira.toml".into(),
        config_hash: ContentHash::of_bytes(b"pipeline"),
        esteira_version: "0.1.0".into(),
        build: esteira_core::store::BuildInfo::default(),
        command: "esteira run".into(),
        host: "a".into(),
        started_at: "2026-12-02T00:00:00Z".into(),
        ended_at: Some("2026-12-02T00:00:01Z".into()),
        order: vec!["source".into(), "upper".into()],
        overrides: Vec::new(),
        sweep: None,
        stages: BTreeMap::from([
            ("source".to_owned(), stage("source", r1.key, BTreeMap::new(), one("text", h1))),
            ("upper".to_owned(), stage("upper", r2.key, one("text", h1), one("text", h2))),
        ]),
    };
    a.run_put(&run).unwrap();

    let pushed = push_run(&a, &remote, "latest").unwrap();
    assert_eq!((pushed.objects_moved, pushed.bytes_moved, pushed.records_created), (2, 30_000, 2));
    assert!(pushed.missing.is_empty());
    assert_eq!(remote.list_runs().unwrap(), vec![run.id.clone()]);
    // Pushing again moves nothing.
    let again = push_run(&a, &remote, &run.id).unwrap();
    assert_eq!((again.objects_moved, again.objects_present, again.records_present), (0, 2, 2));

    let b = LocalStore::open(dirs.1.path()).unwrap();
    let pulled = pull_run(&b, &remote, "2026").unwrap();
    assert_eq!((pulled.objects_moved, pulled.records_created), (2, 2));
    assert_eq!(b.run_get("latest").unwrap(), run);
    assert_eq!(b.cache_get(&r2.key).unwrap().unwrap(), r2);
    for h in [h1, h2] {
        assert_eq!(
            std::fs::read(b.object_path(&h).unwrap()).unwrap(),
            std::fs::read(a.object_path(&h).unwrap()).unwrap()
        );
        b.verify_object(&h).unwrap();
    }
    assert!(pull_run(&b, &remote, "1999").is_err());
}

#[test]
fn the_client_reads_the_aws_environment() {
    let Some(t) = TestRemote::new("env") else { return };
    // Only when the environment names this same loopback server (as .ci/run exports it).
    let env_endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if env_endpoint.trim_end_matches('/') != t.endpoint {
        println!("SKIPPED: AWS_ENDPOINT_URL is not {}", t.endpoint);
        return;
    }
    let remote = RemoteStore::from_env(&t.url).unwrap();
    remote.ping().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, b"from the environment").unwrap();
    let h = ContentHash::of_bytes(b"from the environment");
    remote.put_object(&h, &p).unwrap();
    assert!(t.open().has_object(&h).unwrap());
}
