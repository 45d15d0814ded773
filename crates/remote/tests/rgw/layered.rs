//! The layered store: a second, empty local store served from the remote; corrupt remote
//! objects recomputed; read-only; a nondeterministic loser adopting the winner.

use std::collections::BTreeMap;

use esteira_core::{ArtifactStore, ContentHash, LocalStore, OutputSpec};
use esteira_remote::{LayeredStore, RemoteStore, Shared};
use object_store::Attributes;

use crate::common::{TestRemote, bytes, one, record};

fn layered(dir: &std::path::Path, remote: &RemoteStore, read_only: bool) -> LayeredStore {
    LayeredStore::connect(LocalStore::open(dir).unwrap(), Some(remote.clone()), read_only).unwrap()
}

/// A two-stage chain written through store `a`: `source` -> `upper`. Returns (records, objects).
fn chain(a: &LayeredStore) -> (esteira_core::CacheRecord, esteira_core::CacheRecord, ContentHash, ContentHash) {
    let text = bytes(3, 200_000);
    let upper: Vec<u8> = text.iter().map(u8::to_ascii_uppercase).collect();
    let h1 = a.put_bytes(&text).unwrap();
    let h2 = a.put_bytes(&upper).unwrap();
    let r1 = record("source", serde_json::json!({"seed": 3}), BTreeMap::new(), one("text", h1), "run-a");
    let r2 = record("upper", serde_json::json!({}), one("text", h1), one("text", h2), "run-a");
    let declared = [OutputSpec::new("text", "txt")];
    assert_eq!(a.cache_put_shared(&r1, &declared).unwrap(), Shared::Created);
    assert_eq!(a.cache_put_shared(&r2, &declared).unwrap(), Shared::Created);
    (r1, r2, h1, h2)
}

#[test]
fn an_empty_local_store_hits_from_the_remote_with_identical_bytes() {
    let Some(t) = TestRemote::new("layered") else { return };
    let remote = t.open();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = layered(dirs.0.path(), &remote, false);
    let (r1, r2, h1, h2) = chain(&a);

    let b = layered(dirs.1.path(), &remote, false);
    assert!(b.local().list_objects().unwrap().is_empty());
    // The downstream stage's hit fetches its record and its output, not its inputs.
    let hit = b.cache_entry(&r2.key).unwrap().expect("a hit from the remote");
    assert_eq!(hit.record, r2);
    assert_eq!(hit.meta["text"].ext.as_deref(), Some("txt"));
    assert_eq!(b.local().list_objects().unwrap(), vec![h2]);
    assert!(b.local().cache_entry(&r2.key).unwrap().is_some(), "the record is local now");
    assert_eq!(
        std::fs::read(b.local().object_path(&h2).unwrap()).unwrap(),
        std::fs::read(a.local().object_path(&h2).unwrap()).unwrap()
    );
    // An input is fetched when it is asked for (a stage that runs).
    assert!(!b.local().contains(&h1));
    let p = b.object_path(&h1).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), std::fs::read(a.local().object_path(&h1).unwrap()).unwrap());
    b.local().verify_object(&h1).unwrap();
    assert_eq!(b.cache_get(&r1.key).unwrap().unwrap(), r1);
    // Sharing an identical record again: agreed, nothing replaced.
    assert_eq!(b.cache_put_shared(&r2, &[OutputSpec::new("text", "txt")]).unwrap(), Shared::Agreed);
    assert_eq!(remote.get_cache_record(&r2.key).unwrap().unwrap().record.run_id, "run-a");
    // Nothing left in the local store's tmp/.
    assert_eq!(std::fs::read_dir(dirs.1.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn a_corrupt_remote_object_is_a_miss_and_is_recomputed() {
    let Some(t) = TestRemote::new("layered-corrupt") else { return };
    let remote = t.open();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = layered(dirs.0.path(), &remote, false);
    let (_, r2, _, h2) = chain(&a);
    let good = std::fs::read(a.local().object_path(&h2).unwrap()).unwrap();
    let mut bad = good.clone();
    bad[10] ^= 1;
    t.raw().put(&format!("objects/{}/{}", &h2.to_hex()[..2], h2.to_hex()), bad, Attributes::new());

    // Store c: the record is there, its object is not intact: a miss, never a hit.
    let c = layered(dirs.1.path(), &remote, false);
    assert_eq!(c.cache_entry(&r2.key).unwrap(), None);
    assert!(!c.local().contains(&h2));
    assert!(c.local().cache_entry(&r2.key).unwrap().is_none());
    // The corrupt object was removed from the remote, so that recomputing uploads it again.
    assert_eq!(remote.object_info(&h2).unwrap(), None);
    // c recomputes the stage (same bytes) and shares it: the record was already there.
    assert_eq!(c.put_bytes(&good).unwrap(), h2);
    assert_eq!(c.cache_put_shared(&r2, &[OutputSpec::new("text", "txt")]).unwrap(), Shared::Agreed);

    // A third store hits again, with the right bytes.
    let d = layered(dirs.2.path(), &remote, false);
    assert!(d.cache_entry(&r2.key).unwrap().is_some());
    assert_eq!(std::fs::read(d.local().object_path(&h2).unwrap()).unwrap(), good);
}

#[test]
fn read_only_stores_never_write_to_the_remote() {
    let Some(t) = TestRemote::new("read-only") else { return };
    let remote = t.open();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ro = layered(dirs.0.path(), &remote, true);
    let h = ro.put_bytes(b"local only").unwrap();
    let r = record("k", serde_json::json!({}), BTreeMap::new(), one("out", h), "ci");
    assert_eq!(ro.cache_put_shared(&r, &[]).unwrap(), Shared::LocalOnly);
    assert!(t.raw().keys().is_empty(), "{:?}", t.raw().keys());
    assert!(ro.cache_entry(&r.key).unwrap().is_some(), "written locally");
    // It still reads: a record another store shared is a hit.
    let w = layered(dirs.1.path(), &remote, false);
    let (_, r2, _, h2) = chain(&w);
    let ro2 = layered(dirs.2.path(), &remote, true);
    assert!(ro2.cache_entry(&r2.key).unwrap().is_some());
    assert!(ro2.local().contains(&h2));
}

#[test]
fn a_loser_with_other_outputs_adopts_the_winners_record() {
    let Some(t) = TestRemote::new("adopt") else { return };
    let remote = t.open();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = layered(dirs.0.path(), &remote, false);
    let b = layered(dirs.1.path(), &remote, false);
    // A stage that is not deterministic: same key, other bytes.
    let ha = a.put_bytes(b"sample drawn by a").unwrap();
    let hb = b.put_bytes(b"sample drawn by b").unwrap();
    let ra = record("sample", serde_json::json!({}), BTreeMap::new(), one("rows", ha), "run-a");
    let rb = record("sample", serde_json::json!({}), BTreeMap::new(), one("rows", hb), "run-b");
    assert_eq!(ra.key, rb.key);
    assert_eq!(a.cache_put_shared(&ra, &[]).unwrap(), Shared::Created);
    match b.cache_put_shared(&rb, &[]).unwrap() {
        Shared::Adopted(w) => assert_eq!(*w, ra),
        other => panic!("expected Adopted, got {other:?}"),
    }
    // b's local store now agrees with the remote.
    assert_eq!(b.local().cache_entry(&ra.key).unwrap().unwrap().record, ra);
    assert_eq!(std::fs::read(b.local().object_path(&ha).unwrap()).unwrap(), b"sample drawn by a");
}

#[test]
fn eight_layered_stores_racing_end_with_the_same_record() {
    const WRITERS: usize = 8;
    let Some(t) = TestRemote::new("layered-race") else { return };
    let dirs: Vec<_> = (0..WRITERS).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores: Vec<LayeredStore> = dirs.iter().map(|d| layered(d.path(), &t.open(), false)).collect();
    for trial in 0..10u64 {
        // Half the trials deterministic (every writer the same bytes), half not.
        let deterministic = trial % 2 == 0;
        let barrier = std::sync::Barrier::new(WRITERS);
        let outcomes: Vec<(usize, Shared, esteira_core::CacheRecord)> = std::thread::scope(|s| {
            let handles: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(w, store)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let seed = if deterministic { trial } else { trial * 100 + w as u64 };
                        let h = store.put_bytes(&bytes(seed, 30_000)).unwrap();
                        let r = record(
                            "stage",
                            serde_json::json!({"trial": trial}),
                            BTreeMap::new(),
                            one("out", h),
                            &format!("w{w}"),
                        );
                        barrier.wait();
                        (w, store.cache_put_shared(&r, &[OutputSpec::new("out", "bin")]).unwrap(), r)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created: Vec<&(usize, Shared, esteira_core::CacheRecord)> =
            outcomes.iter().filter(|(_, s, _)| *s == Shared::Created).collect();
        assert_eq!(created.len(), 1, "trial {trial}: {outcomes:?}");
        let winner = &created[0].2;
        for (w, shared, _) in &outcomes {
            match shared {
                Shared::Created => {}
                Shared::Agreed => assert!(deterministic, "trial {trial}: writer {w} agreed on other bytes"),
                Shared::Adopted(r) => {
                    assert!(!deterministic, "trial {trial}: writer {w} adopted identical bytes");
                    assert_eq!(**r, *winner);
                }
                Shared::LocalOnly => panic!("trial {trial}: writer {w} did not share"),
            }
        }
        // Every local store now holds the winner's record, its object intact; the remote too.
        for store in &stores {
            let local = store.local().cache_entry(&winner.key).unwrap().unwrap();
            assert_eq!(local.record.outputs, winner.outputs);
            store.local().verify_object(&winner.outputs["out"]).unwrap();
        }
        assert_eq!(t.open().get_cache_record(&winner.key).unwrap().unwrap().record, *winner);
    }
    assert_eq!(t.open().list_cache_keys().unwrap().len(), 10);
}
