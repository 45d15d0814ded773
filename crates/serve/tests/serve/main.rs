//! Tests of esteira-serve against a real server on 127.0.0.1 and a real store.

mod browser;
mod calibration;
mod fixture;
mod hardening;
mod http;
mod numbers;
