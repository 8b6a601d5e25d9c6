//! Message encryption: the legacy cryptor and the AES-CBC crypto module.
//!
//! (stub: being written on the `crypto` branch)
