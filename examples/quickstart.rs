//! Quickstart (stub: written with the client foundation).
fn main() {}
