//! Entities: named PubNub resources made by the client — a channel, a
//! channel group, a channel's metadata, a user's metadata. Each can create
//! subscriptions, and REST calls about that resource hang off it too.

use std::fmt;
use std::sync::Arc;

use crate::PubNub;

macro_rules! entity {
    ($(#[$doc:meta])* $name:ident, $ctor:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            pub(crate) client: PubNub,
            pub(crate) name: Arc<str>,
        }

        impl $name {
            #[doc = concat!("The ", $what, ".")]
            pub fn name(&self) -> &str {
                &self.name
            }

            /// The client this entity belongs to.
            pub fn client(&self) -> &PubNub {
                &self.client
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.name).finish()
            }
        }

        impl PubNub {
            #[doc = concat!("The ", $what, " entity named `name`.")]
            pub fn $ctor(&self, name: impl Into<String>) -> $name {
                $name { client: self.clone(), name: name.into().into() }
            }
        }
    };
}

entity!(
    /// A channel (a wildcard such as `room.*` is a channel too, for subscribing).
    Channel, channel, "channel name"
);
entity!(
    /// A channel group: a server-side named set of channels.
    ChannelGroup, channel_group, "channel group name"
);
entity!(
    /// The App Context metadata of a channel; subscribing to it delivers its
    /// App Context events.
    ChannelMetadata, channel_metadata, "channel id"
);
entity!(
    /// The App Context metadata of a user; subscribing to it delivers its App
    /// Context events.
    UserMetadata, user_metadata, "user id"
);
