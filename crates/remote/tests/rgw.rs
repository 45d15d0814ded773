//! esteira-remote against a real S3 server: Ceph's RADOS gateway from `.ci/ceph-up.sh` at
//! `ESTEIRA_TEST_S3_ENDPOINT` (loopback only). Without it every server test prints
//! `SKIPPED: no S3 endpoint` and passes, unless `ESTEIRA_REQUIRE_S3=1` (CI), where it fails.
//! The retry and outage tests need no server (a closed port, a loopback server answering 503).

#[path = "rgw/common.rs"]
mod common;
#[path = "rgw/failures.rs"]
mod failures;
#[path = "rgw/layered.rs"]
mod layered;
#[path = "rgw/objects.rs"]
mod objects;
#[path = "rgw/records.rs"]
mod records;
#[path = "rgw/runs.rs"]
mod runs;
