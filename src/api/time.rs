//! `GET /time/0`: PubNub's current timetoken (PROTOCOL.md §2).

use crate::api::{parse_json, timetoken_from};
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

impl PubNub {
    /// The server's current time as a 17-digit timetoken (Unix time in units
    /// of 100 ns).
    ///
    /// ```no_run
    /// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
    /// let now = client.time().await?;
    /// println!("PubNub time: {now}");
    /// # Ok(()) }
    /// ```
    pub async fn time(&self) -> Result<u64, Error> {
        let request = self
            .request(HttpMethod::Get, "/time/0".to_owned())
            .without_auth();
        let response = self.execute(request).await?;
        let body = parse_json("the time response", &response.body)?;
        body.get(0).and_then(timetoken_from).ok_or_else(|| {
            Error::deserialization(
                "the time response",
                "expected [<timetoken>]",
                &response.body,
            )
        })
    }
}
