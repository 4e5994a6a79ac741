//! Test support shared by integration tests: a naive reference evaluator of
//! Keen queries ([`reference`]), proptest generators of events and
//! queries ([`gen`]), the normaliser that makes two answers comparable
//! ([`normalize`]) and the comparison of a reference answer with the
//! engine's ([`compare`]).

// Each test binary that includes this module uses a different subset of it.
#![allow(dead_code)]

pub mod compare;
pub mod fs;
pub mod gen;
pub mod normalize;
pub mod reference;
pub mod world;
