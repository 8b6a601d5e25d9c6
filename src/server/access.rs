//! The single authorization seam.
//!
//! Every data request calls [`App::authorize`](super::app::App::authorize)
//! with the permission it needs and the resources it touches, before it
//! reads or changes anything. Today the check allows everything; Access
//! Manager (signatures, PAM v2 grants, PAM v3 tokens) is added here and only
//! here, answering `ApiError::Forbidden` (403, PROTOCOL.md §1.7/§8).

/// A permission a request needs (PROTOCOL.md §8.1: r, w, m, d, g, u, j).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Permission {
    /// `r`: subscribe, history, here_now, get state, list a group.
    Read,
    /// `w`: publish, signal, set state.
    Write,
    /// `m`: channel-group management.
    Manage,
    /// `d`: delete history.
    Delete,
    /// `g`: App Context get (reserved).
    #[allow(dead_code)]
    Get,
    /// `u`: App Context update (reserved).
    #[allow(dead_code)]
    Update,
    /// `j`: join (reserved).
    #[allow(dead_code)]
    Join,
}

/// The resources a request touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resources {
    pub(crate) channels: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) uuids: Vec<String>,
}

impl Resources {
    pub(crate) fn channels<I, S>(channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            channels: channels.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub(crate) fn channel(channel: &str) -> Self {
        Self::channels([channel])
    }

    pub(crate) fn group(group: &str) -> Self {
        Self {
            groups: vec![group.to_owned()],
            ..Self::default()
        }
    }

    pub(crate) fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    pub(crate) fn with_uuid(mut self, uuid: &str) -> Self {
        self.uuids.push(uuid.to_owned());
        self
    }
}
