//! Cache records: conditional creates (first writer wins, also under a race), validation.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use esteira_core::ContentHash;
use esteira_core::store::{CacheEntry, OutputMeta};
use esteira_remote::{RecordPut, RemoteError};
use object_store::Attributes;

use crate::common::{TestRemote, bytes, one, record};

fn entry(record: esteira_core::CacheRecord) -> CacheEntry {
    CacheEntry { record, meta: BTreeMap::new() }
}

#[test]
fn the_first_record_wins_and_a_loser_gets_it() {
    let Some(t) = TestRemote::new("records") else { return };
    let remote = t.open();
    let dir = tempfile::tempdir().unwrap();
    let data = bytes(1, 5000);
    let out = ContentHash::of_bytes(&data);
    let src = dir.path().join("out");
    std::fs::write(&src, &data).unwrap();

    let first = record("k", serde_json::json!({"x": 1.5}), BTreeMap::new(), one("table", out), "run-1");
    // A record never names an object the remote does not have.
    let err = remote.put_cache_record_if_absent(&entry(first.clone())).unwrap_err();
    assert!(matches!(err, RemoteError::NotFound { .. }), "{err}");
    assert_eq!(remote.get_cache_record(&first.key).unwrap(), None);

    remote.put_object(&out, &src).unwrap();
    assert_eq!(remote.put_cache_record_if_absent(&entry(first.clone())).unwrap(), RecordPut::Created);
    let got = remote.get_cache_record(&first.key).unwrap().unwrap();
    assert_eq!(got.record, first);
    // Sizes are recorded beside it (taken from the remote when the entry had none).
    assert_eq!(got.meta["table"], OutputMeta { ext: None, size: 5000 });

    let mut second = first.clone();
    second.run_id = "run-2".into();
    match remote.put_cache_record_if_absent(&entry(second)).unwrap() {
        RecordPut::AlreadyThere(winner) => assert_eq!(winner.record, first),
        RecordPut::Created => panic!("a second create succeeded"),
    }
    assert_eq!(remote.get_cache_record(&first.key).unwrap().unwrap().record.run_id, "run-1");
    assert_eq!(remote.list_cache_keys().unwrap(), vec![first.key]);
}

#[test]
fn eight_writers_racing_leave_one_record_per_key() {
    const WRITERS: usize = 8;
    const TRIALS: usize = 25;
    let Some(t) = TestRemote::new("race") else { return };
    let dir = tempfile::tempdir().unwrap();
    // Eight clients, as eight machines would have (each its own connections and runtime).
    let remotes: Vec<_> = (0..WRITERS).map(|_| t.open()).collect();
    let mut created_by = Vec::new();
    for trial in 0..TRIALS {
        let data = bytes(trial as u64, 40_000 + trial);
        let out = ContentHash::of_bytes(&data);
        let src = dir.path().join(format!("out{trial}"));
        std::fs::write(&src, &data).unwrap();
        let base = record("race", serde_json::json!({"trial": trial}), BTreeMap::new(), one("out", out), "");
        let barrier = Arc::new(Barrier::new(WRITERS));
        let results: Vec<(usize, RecordPut)> = std::thread::scope(|s| {
            let handles: Vec<_> = remotes
                .iter()
                .enumerate()
                .map(|(w, remote)| {
                    let (barrier, src, mut r) = (Arc::clone(&barrier), src.clone(), base.clone());
                    s.spawn(move || {
                        r.run_id = format!("writer-{w}");
                        // Every writer uploads the same object, then races on the record.
                        barrier.wait();
                        remote.put_object(&out, &src).unwrap();
                        barrier.wait();
                        (w, remote.put_cache_record_if_absent(&entry(r)).unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> =
            results.iter().filter(|(_, r)| matches!(r, RecordPut::Created)).map(|(w, _)| *w).collect();
        assert_eq!(winners.len(), 1, "trial {trial}: {} writers got Created", winners.len());
        let winner = format!("writer-{}", winners[0]);
        for (w, r) in &results {
            if let RecordPut::AlreadyThere(e) = r {
                assert_eq!(e.record.run_id, winner, "trial {trial}: writer {w} was handed another record");
            }
        }
        assert_eq!(remotes[0].get_cache_record(&base.key).unwrap().unwrap().record.run_id, winner);
        // The object all eight wrote is whole.
        let dest = dir.path().join(format!("check{trial}"));
        remotes[0].get_object(&out, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        created_by.push(winners[0]);
    }
    let keys = remotes[0].list_cache_keys().unwrap();
    assert_eq!(keys.len(), TRIALS, "one record per key");
    assert_eq!(remotes[0].list_objects().unwrap().len(), TRIALS);
    println!("race: {TRIALS} trials x {WRITERS} writers, exactly one Created each; winners by writer: {created_by:?}");
}

#[test]
fn records_that_do_not_belong_to_their_key_are_invalid() {
    let Some(t) = TestRemote::new("bad-records") else { return };
    let remote = t.open();
    let a = record("k", serde_json::json!({"a": 1}), BTreeMap::new(), BTreeMap::new(), "r");
    let b = record("k", serde_json::json!({"a": 2}), BTreeMap::new(), BTreeMap::new(), "r");
    let raw = t.raw();
    raw.put(&format!("cache/{}.json", a.key.to_hex()), b"{ not json".to_vec(), Attributes::new());
    assert!(matches!(remote.get_cache_record(&a.key), Err(RemoteError::InvalidRecord { .. })));
    // b's record stored under a's key.
    raw.put(&format!("cache/{}.json", a.key.to_hex()), serde_json::to_vec(&b).unwrap(), Attributes::new());
    let err = remote.get_cache_record(&a.key).unwrap_err();
    assert!(err.to_string().contains("names key"), "{err}");
    // A record edited by hand: its params no longer hash to its key.
    let mut edited = serde_json::to_value(&a).unwrap();
    edited["params"] = serde_json::json!({"a": 3});
    raw.put(&format!("cache/{}.json", a.key.to_hex()), serde_json::to_vec(&edited).unwrap(), Attributes::new());
    let err = remote.get_cache_record(&a.key).unwrap_err();
    assert!(err.to_string().contains("hash to"), "{err}");
    // Written as esteira writes it, it reads back.
    raw.put(&format!("cache/{}.json", a.key.to_hex()), serde_json::to_vec(&a).unwrap(), Attributes::new());
    assert_eq!(remote.get_cache_record(&a.key).unwrap().unwrap().record, a);
    assert_eq!(raw.get(&format!("cache/{}.json", b.key.to_hex())), None);
}
