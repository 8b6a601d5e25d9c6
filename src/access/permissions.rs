//! The Access Manager permission set: one bit per operation, as PAM v3
//! tokens and grant bodies carry it (PROTOCOL.md §8.2), also used for the v2
//! `r`/`w`/`m`/`d`/`g`/`u`/`j` flags of grant and audit results.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

/// A set of Access Manager permissions.
///
/// Built with chained calls, combined with `|`, tested with
/// [`contains`](Self::contains):
///
/// ```
/// use pubnub_rx::access::Permissions;
///
/// let chat = Permissions::new().read().write();
/// assert_eq!(chat.bits(), 3);
/// assert!(chat.contains(Permissions::READ));
/// assert!(!chat.contains(Permissions::MANAGE));
/// assert_eq!(chat | Permissions::JOIN, Permissions::from_bits(131));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Permissions(u32);

impl Permissions {
    /// Read: subscribe, history, presence (bit 1).
    pub const READ: Self = Self(1);
    /// Write: publish, signal, set state (bit 2).
    pub const WRITE: Self = Self(2);
    /// Manage: channel-group management, App Context memberships (bit 4).
    pub const MANAGE: Self = Self(4);
    /// Delete: delete history and App Context data (bit 8).
    pub const DELETE: Self = Self(8);
    /// Create (legacy v3 users/spaces; bit 16).
    pub const CREATE: Self = Self(16);
    /// Get: read App Context metadata (bit 32).
    pub const GET: Self = Self(32);
    /// Update: change App Context metadata (bit 64).
    pub const UPDATE: Self = Self(64);
    /// Join: join a channel as a member (bit 128).
    pub const JOIN: Self = Self(128);

    const NAMED: [(Self, &'static str); 8] = [
        (Self::READ, "READ"),
        (Self::WRITE, "WRITE"),
        (Self::MANAGE, "MANAGE"),
        (Self::DELETE, "DELETE"),
        (Self::CREATE, "CREATE"),
        (Self::GET, "GET"),
        (Self::UPDATE, "UPDATE"),
        (Self::JOIN, "JOIN"),
    ];

    /// No permission; add some with the chained calls.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Every permission PubNub defines (255).
    pub const fn all() -> Self {
        Self(255)
    }

    /// The set for a bitmask as it appears on the wire. Unknown bits are
    /// kept, so a mask read from a token writes back unchanged.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The bitmask as it appears on the wire.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether no permission is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every permission of `other` is in this set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Adds `other`.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Adds read.
    #[must_use]
    pub const fn read(self) -> Self {
        self.with(Self::READ)
    }

    /// Adds write.
    #[must_use]
    pub const fn write(self) -> Self {
        self.with(Self::WRITE)
    }

    /// Adds manage.
    #[must_use]
    pub const fn manage(self) -> Self {
        self.with(Self::MANAGE)
    }

    /// Adds delete.
    #[must_use]
    pub const fn delete(self) -> Self {
        self.with(Self::DELETE)
    }

    /// Adds create (legacy; current PubNub resources do not use it).
    #[must_use]
    pub const fn create(self) -> Self {
        self.with(Self::CREATE)
    }

    /// Adds get.
    #[must_use]
    pub const fn get(self) -> Self {
        self.with(Self::GET)
    }

    /// Adds update.
    #[must_use]
    pub const fn update(self) -> Self {
        self.with(Self::UPDATE)
    }

    /// Adds join.
    #[must_use]
    pub const fn join(self) -> Self {
        self.with(Self::JOIN)
    }
}

/// Written as the bitmask number, as grant bodies carry it.
impl serde::Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

/// Read from the bitmask number of a grant body.
impl<'de> serde::Deserialize<'de> for Permissions {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(Self)
    }
}

impl BitOr for Permissions {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.with(rhs);
    }
}

impl BitAnd for Permissions {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl fmt::Debug for Permissions {
    /// `Permissions(READ | WRITE)`, `Permissions(none)`, unknown bits in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permissions(")?;
        let mut first = true;
        let mut rest = self.0;
        for (flag, name) in Self::NAMED {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_protocol() {
        let everything_but_create = Permissions::new()
            .read()
            .write()
            .manage()
            .delete()
            .get()
            .update()
            .join();
        assert_eq!(everything_but_create.bits(), 239);
        assert_eq!(
            (Permissions::READ | Permissions::WRITE | Permissions::MANAGE | Permissions::DELETE)
                .with(Permissions::UPDATE)
                .join()
                .bits(),
            207
        );
        assert_eq!(Permissions::all().bits(), 255);
        assert!(Permissions::new().is_empty());
        assert_eq!(Permissions::new().create().bits(), 16);
    }

    #[test]
    fn debug_names_the_bits() {
        assert_eq!(
            format!("{:?}", Permissions::new().read().join()),
            "Permissions(READ | JOIN)"
        );
        assert_eq!(format!("{:?}", Permissions::new()), "Permissions(none)");
        assert_eq!(
            format!("{:?}", Permissions::from_bits(0x101)),
            "Permissions(READ | 0x100)"
        );
    }

    #[test]
    fn contains_and_intersection() {
        let p = Permissions::from_bits(5);
        assert!(p.contains(Permissions::READ | Permissions::MANAGE));
        assert!(!p.contains(Permissions::READ | Permissions::WRITE));
        assert_eq!(p & Permissions::MANAGE, Permissions::MANAGE);
        let mut q = Permissions::new();
        q |= Permissions::GET;
        assert_eq!(q.bits(), 32);
    }
}
