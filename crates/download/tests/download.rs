//! esteira-download's integration tests, one binary (each module was a binary of its own;
//! together they link arrow once): fetch against real HTTP servers on 127.0.0.1 (`http`), the
//! fetch and merge stages against a real store (`stages`), the UFRN merge on esteira-synth's
//! tables (`synth_merge`) and the real portal course table (`ufrn_csv`).

#[path = "download/common/mod.rs"]
mod common;
#[path = "download/http.rs"]
mod http;
#[path = "download/stages.rs"]
mod stages;
#[path = "download/synth_merge.rs"]
mod synth_merge;
#[path = "download/ufrn_csv.rs"]
mod ufrn_csv;
