//! esteira-checks: data checks compatible with Great Expectations, on Arrow tables.
//!
//! PLACEHOLDER
#![forbid(unsafe_code)]

mod column;
mod error;
mod expectation;
mod result;
mod scalar;
mod suite;
mod types;
mod validate;

pub use error::CheckError;
pub use expectation::EXPECTATION_TYPES;
pub use result::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_PASSED, ExceptionInfo, ExpectationResult, Statistics, ValidationResult};
pub use suite::{ExpectationConfig, Suite};
pub use types::{type_matches, type_name};
pub use validate::{PARTIAL_UNEXPECTED, validate, validate_table};
