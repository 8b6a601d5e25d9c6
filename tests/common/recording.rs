//! An in-memory [`Transport`] that records requests and answers from a script.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt as _;
use pubnub_rx::transport::{Transport, TransportRequest, TransportResponse};
use pubnub_rx::Error;

#[derive(Debug, Default)]
pub struct RecordingTransport {
    pub requests: Mutex<Vec<TransportRequest>>,
    pub responses: Mutex<VecDeque<Result<TransportResponse, Error>>>,
}

impl RecordingTransport {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn respond(&self, status: u16, body: &str) {
        self.responses
            .lock()
            .unwrap()
            .push_back(Ok(TransportResponse {
                status,
                body: body.to_owned().into_bytes().into(),
            }));
    }

    pub fn sent(&self) -> Vec<TransportRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Transport for RecordingTransport {
    fn send(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        self.requests.lock().unwrap().push(request);
        let next = self
            .responses
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| {
                Err(Error::Network {
                    message: "RecordingTransport: no scripted response left".to_owned(),
                })
            });
        async move { next }.boxed()
    }
}
