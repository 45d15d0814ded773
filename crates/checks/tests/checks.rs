//! esteira-checks' integration tests, one binary (each module was a binary of its own; together
//! they link arrow once).

#[path = "checks/common.rs"]
mod common;
#[path = "checks/expectations.rs"]
mod expectations;
#[path = "checks/original_suite.rs"]
mod original_suite;
#[path = "checks/parquet_columns.rs"]
mod parquet_columns;
#[path = "checks/profile_report.rs"]
mod profile_report;
#[path = "checks/stage.rs"]
mod stage;
