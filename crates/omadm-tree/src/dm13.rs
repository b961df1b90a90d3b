//! DM 1.3 readings of the tree that the available texts do not settle, in one place
//! (recorded in `docs/dm13-decisions.md`, "Tree and description").
//!
//! - **Status 217 for an inherited ACL.** Confirmed from oneM2M TS-0005's "OMA DM 1.3 status code"
//!   table: a Get of `?prop=ACL` on a node whose ACL is empty answers 217 with the inherited ACL.
//!   DM 1.2 answers 200 with `<Data/>`. We answer per the caller's negotiated version, and each
//!   version's answer is configurable for peers that differ.
//! - **Virtual URIs.** No 1.3 text was readable. Our reading: a 1.3 caller may address an MO by
//!   its identifier in place of the path to its root, e.g. `urn:oma:mo:oma-dm-devinfo:1.0/DevId`
//!   for `./DevInfo/DevId` (the identifier is a legal first segment). The first interior node in
//!   pre-order whose Type equals the identifier is the root; an unknown identifier is 404. DM 1.2
//!   callers never get this resolution. It can be switched off.

/// The DM protocol version a caller's session negotiated (SyncHdr VerProto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DmVersion {
    /// `DM/1.2`.
    #[default]
    V1_2,
    /// `DM/1.3`.
    V1_3,
}

/// How a Get of `?prop=ACL` answers on a node whose ACL is empty (inherited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InheritedAclReply {
    /// 200 with empty data (DM 1.2, TND 1.2 §7.7.1).
    EmptyOk,
    /// 217 "OK with inherited ACL" with the inherited ACL as data (DM 1.3 reading).
    Inherited217,
}

/// The switches for the unconfirmed DM 1.3 tree behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dm13Policy {
    /// Answer to DM 1.2 callers (default: 200 + empty).
    pub inherited_acl_v12: InheritedAclReply,
    /// Answer to DM 1.3 callers (default: 217 + the inherited ACL).
    pub inherited_acl_v13: InheritedAclReply,
    /// Resolve MO-identifier URIs for DM 1.3 callers (default: on).
    pub mo_id_uris: bool,
}

impl Default for Dm13Policy {
    fn default() -> Self {
        Dm13Policy {
            inherited_acl_v12: InheritedAclReply::EmptyOk,
            inherited_acl_v13: InheritedAclReply::Inherited217,
            mo_id_uris: true,
        }
    }
}

impl Dm13Policy {
    /// The inherited-ACL answer for a caller of this version.
    pub fn inherited_acl(&self, v: DmVersion) -> InheritedAclReply {
        match v {
            DmVersion::V1_2 => self.inherited_acl_v12,
            DmVersion::V1_3 => self.inherited_acl_v13,
        }
    }

    /// The MO identifier a URI's first segment names, when MO-identifier addressing applies.
    pub fn mo_id_prefix<'a>(&self, v: DmVersion, first_segment: Option<&'a str>) -> Option<&'a str> {
        let seg = first_segment?;
        (self.mo_id_uris && v == DmVersion::V1_3 && seg.starts_with("urn:oma:mo:")).then_some(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_version() {
        let p = Dm13Policy::default();
        assert_eq!(p.inherited_acl(DmVersion::V1_2), InheritedAclReply::EmptyOk);
        assert_eq!(p.inherited_acl(DmVersion::V1_3), InheritedAclReply::Inherited217);
        assert_eq!(p.mo_id_prefix(DmVersion::V1_3, Some("urn:oma:mo:x:1.0")), Some("urn:oma:mo:x:1.0"));
        assert_eq!(p.mo_id_prefix(DmVersion::V1_2, Some("urn:oma:mo:x:1.0")), None);
        assert_eq!(p.mo_id_prefix(DmVersion::V1_3, Some("DevInfo")), None);
    }
}
