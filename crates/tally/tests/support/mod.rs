//! Test support shared by integration tests: a naive reference evaluator of
//! Keen queries ([`reference`]), proptest generators of events and
//! queries ([`gen`]) and the normaliser that makes two answers comparable
//! ([`normalize`]).

// Each test binary that includes this module uses a different subset of it.
#![allow(dead_code)]

pub mod gen;
pub mod normalize;
pub mod reference;
