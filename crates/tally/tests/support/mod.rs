//! Test support shared by integration tests: a naive reference evaluator of
//! Keen queries ([`reference`]) and proptest generators of events and
//! queries ([`gen`]).

// Each test binary that includes this module uses a different subset of it.
#![allow(dead_code)]

pub mod gen;
pub mod reference;
