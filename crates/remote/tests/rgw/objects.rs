//! Objects: round trips, skipping what is there, refusing bytes that are not their name, and
//! corrupt remote objects.

use esteira_core::{ContentHash, CoreError};
use esteira_remote::{HASH_METADATA, ObjectInfo, RemoteError, Upload};
use object_store::{Attribute, Attributes};

use crate::common::{TestRemote, bytes, options};

fn write(dir: &std::path::Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn objects_round_trip_verified_single_and_multipart() {
    let Some(t) = TestRemote::new("objects") else { return };
    // Parts of 5 MiB: a 12 MiB object goes up as a three-part multipart upload.
    let mut opts = options(&t.endpoint);
    opts.part_size = 5 << 20;
    let remote = t.open_with(&opts);
    remote.ping().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, len) in [0usize, 1, 70_000, (12 << 20) + 3].into_iter().enumerate() {
        let data = bytes(i as u64, len);
        let hash = ContentHash::of_bytes(&data);
        let src = write(dir.path(), &format!("src{i}"), &data);
        assert!(!remote.has_object(&hash).unwrap());
        assert_eq!(remote.put_object(&hash, &src).unwrap(), Upload::Uploaded { bytes: len as u64 });
        assert_eq!(
            remote.object_info(&hash).unwrap(),
            Some(ObjectInfo { size: len as u64, recorded_hash: Some(hash) })
        );
        assert!(remote.has_object(&hash).unwrap());
        // Present with the right size and hash: nothing is sent again.
        assert_eq!(remote.put_object(&hash, &src).unwrap(), Upload::Present { bytes: len as u64 });
        let dest = dir.path().join(format!("dest{i}"));
        assert_eq!(remote.get_object(&hash, &dest).unwrap(), len as u64);
        assert_eq!(std::fs::read(&dest).unwrap(), data, "object {i}");
        assert!(t.raw().keys().contains(&format!("objects/{}/{}", &hash.to_hex()[..2], hash.to_hex())));
    }
    let listed = remote.list_objects().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().any(|(_, size)| *size == (12 << 20) + 3));
    // Nothing but the objects and the downloaded files: no temporary files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 8);
}

#[test]
fn a_file_that_is_not_its_hash_is_never_uploaded() {
    let Some(t) = TestRemote::new("wrong-source") else { return };
    let mut opts = options(&t.endpoint);
    opts.part_size = 5 << 20;
    let remote = t.open_with(&opts);
    let dir = tempfile::tempdir().unwrap();
    for len in [1000usize, 11 << 20] {
        let claimed = ContentHash::of_bytes(&bytes(1, len));
        let src = write(dir.path(), "other", &bytes(2, len));
        let err = remote.put_object(&claimed, &src).unwrap_err();
        assert!(matches!(err, RemoteError::Local(CoreError::Corrupt { .. })), "{err}");
        // The single PUT never started; the multipart upload was aborted, never completed.
        assert_eq!(remote.object_info(&claimed).unwrap(), None, "{len} bytes");
    }
    assert!(t.raw().keys().is_empty());
}

#[test]
fn a_corrupted_remote_object_is_detected_on_download() {
    let Some(t) = TestRemote::new("corrupt") else { return };
    let remote = t.open();
    let dir = tempfile::tempdir().unwrap();
    let data = bytes(7, 300_000);
    let hash = ContentHash::of_bytes(&data);
    remote.put_object(&hash, &write(dir.path(), "src", &data)).unwrap();
    let key = format!("objects/{}/{}", &hash.to_hex()[..2], hash.to_hex());
    let dest = dir.path().join("dest");

    // Overwritten through the S3 API with other bytes of the same size (no metadata).
    let mut bad = data.clone();
    bad[123_456] ^= 0x40;
    t.raw().put(&key, bad.clone(), Attributes::new());
    let err = remote.get_object(&hash, &dest).unwrap_err();
    assert!(matches!(err, RemoteError::Corrupt { .. }), "{err}");
    assert!(!dest.exists());
    // Not recorded under its hash any more: the next upload replaces it.
    assert_eq!(remote.object_info(&hash).unwrap().unwrap().recorded_hash, None);

    // Bit rot that kept the metadata: only the hash of the bytes can tell.
    let attrs = Attributes::from_iter([(Attribute::Metadata(HASH_METADATA.into()), hash.to_hex())]);
    t.raw().put(&key, bad.clone(), attrs);
    assert!(remote.has_object(&hash).unwrap());
    let err = remote.get_object(&hash, &dest).unwrap_err();
    assert!(matches!(err, RemoteError::Corrupt { .. }), "{err}");
    assert!(!dest.exists());

    // Truncated.
    t.raw().put(&key, data[..1000].to_vec(), Attributes::new());
    assert!(matches!(remote.get_object(&hash, &dest), Err(RemoteError::Corrupt { .. })));

    // Recorded as another object.
    let other = ContentHash::of_bytes(b"other");
    let attrs = Attributes::from_iter([(Attribute::Metadata(HASH_METADATA.into()), other.to_hex())]);
    t.raw().put(&key, data.clone(), attrs);
    assert!(!remote.has_object(&hash).unwrap());
    assert!(matches!(remote.get_object(&hash, &dest), Err(RemoteError::Corrupt { .. })));

    // Uploading it again repairs it.
    assert!(matches!(remote.put_object(&hash, &dir.path().join("src")).unwrap(), Upload::Uploaded { .. }));
    remote.get_object(&hash, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    // An absent object.
    let absent = ContentHash::of_bytes(b"absent");
    assert!(matches!(remote.get_object(&absent, &dest), Err(RemoteError::NotFound { .. })));
}

/// 100 MB up and down on loopback, for the figures (`cargo test --release -p esteira-remote
/// --test rgw -- --ignored --nocapture throughput`).
#[test]
#[ignore = "a measurement, not a check"]
fn throughput_100mb() {
    let Some(t) = TestRemote::new("throughput") else { return };
    let remote = t.open();
    let dir = tempfile::tempdir().unwrap();
    let data = bytes(9, 100_000_000);
    let hash = ContentHash::of_bytes(&data);
    let src = write(dir.path(), "src", &data);
    let t0 = std::time::Instant::now();
    remote.put_object(&hash, &src).unwrap();
    let up = t0.elapsed();
    let t1 = std::time::Instant::now();
    remote.get_object(&hash, &dir.path().join("dest")).unwrap();
    let down = t1.elapsed();
    let mb = 100.0;
    println!(
        "100 MB: upload {:.2} s ({:.0} MB/s, incl. HEADs), download {:.2} s ({:.0} MB/s, hashed and fsynced)",
        up.as_secs_f64(),
        mb / up.as_secs_f64(),
        down.as_secs_f64(),
        mb / down.as_secs_f64()
    );
}
