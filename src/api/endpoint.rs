//! How every REST builder is awaited: it builds its request (checking its
//! arguments first), the client sends it, and the builder's family reads
//! the answer.
//!
//! A builder implements [`Endpoint`]; [`awaitable!`] then writes its
//! `IntoFuture` impl, so no family spells out the send-and-parse future.

use std::future::Future;
use std::pin::Pin;

use crate::client::Request;
use crate::transport::TransportResponse;
use crate::{Error, PubNub};

/// The future every REST builder turns into.
pub(crate) type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// A request ready to send, with what reading its answer needs (`context`,
/// `()` for most calls).
#[derive(Debug)]
pub(crate) struct Call<C = ()> {
    pub(crate) client: PubNub,
    pub(crate) request: Request,
    pub(crate) context: C,
}

impl Call {
    /// A call whose answer is read from the body alone.
    pub(crate) fn new(client: PubNub, request: Request) -> Self {
        Self {
            client,
            request,
            context: (),
        }
    }
}

/// A successful answer (status below 400), with the call's client and context.
pub(crate) struct Answer<C = ()> {
    pub(crate) client: PubNub,
    pub(crate) context: C,
    pub(crate) response: TransportResponse,
}

impl<C> Answer<C> {
    /// The response body.
    pub(crate) fn body(&self) -> &[u8] {
        &self.response.body
    }
}

/// One REST call: a builder that becomes a request, and the reading of its
/// answer.
pub(crate) trait Endpoint: Sized + 'static {
    /// What awaiting the builder returns.
    type Output: 'static;
    /// What the build learns that reading the answer needs.
    type Context: Send + 'static;

    /// Checks the arguments and builds the request; nothing is sent when
    /// this fails.
    fn build(self) -> Result<Call<Self::Context>, Error>;

    /// Reads a successful answer.
    fn parse(answer: Answer<Self::Context>) -> Result<Self::Output, Error>;
}

/// Builds the request now, then sends it and reads the answer when awaited.
pub(crate) fn send<E: Endpoint>(endpoint: E) -> Boxed<E::Output> {
    let prepared = endpoint.build();
    Box::pin(async move {
        let Call {
            client,
            request,
            context,
        } = prepared?;
        let response = client.execute(request).await?;
        E::parse(Answer {
            client,
            context,
            response,
        })
    })
}

/// Writes `impl IntoFuture for Builder` (with `Output = Result<T, Error>`)
/// for builders that implement [`Endpoint`] with `Output = T`.
macro_rules! awaitable {
    ($($builder:ty => $output:ty),+ $(,)?) => {$(
        impl ::std::future::IntoFuture for $builder {
            type Output = ::std::result::Result<$output, $crate::Error>;
            type IntoFuture = $crate::api::endpoint::Boxed<$output>;

            fn into_future(self) -> Self::IntoFuture {
                $crate::api::endpoint::send(self)
            }
        }
    )+};
}

pub(crate) use awaitable;
