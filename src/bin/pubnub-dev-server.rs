//! `pubnub-dev-server`: runs the embedded PubNub-compatible server in the foreground.
//! (stub: being written on the `server` branch)

fn main() {}
