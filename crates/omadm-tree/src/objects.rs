//! The standard objects we ship (DM StdObj 1.2 §5; DM 1.3 keeps their DDF element set), each
//! defined by a DDF document in `crates/omadm-tree/ddf/` that we wrote: DMAcc, DevInfo, DevDetail
//! and Inbox. [`install`] mounts the four descriptions and builds the permanent nodes of a device.

use omadm_proto::{Format, Limits, StatusCode};

use crate::acl::Acl;
use crate::ddf::{Ddf, DdfError};
use crate::error::{TreeError, TreeResult};
use crate::record::{NodeRecord, Scope};
use crate::store::Store;
use crate::tree::{Tree, TreeConfig};
use crate::uri::{Uri, UriLimits};

/// One of the standard management objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardObject {
    /// DMAcc: one account per DM server (`./DMAcc/<x>`).
    DmAcc,
    /// DevInfo: the device information sent in every Package 1.
    DevInfo,
    /// DevDetail: device details, URI limits and large-object support.
    DevDetail,
    /// Inbox: where MOs are dropped to be placed by their MO identifier.
    Inbox,
}

impl StandardObject {
    /// All four.
    pub const ALL: [StandardObject; 4] =
        [StandardObject::DmAcc, StandardObject::DevInfo, StandardObject::DevDetail, StandardObject::Inbox];

    /// The DDF document (XML) we ship for the object.
    pub fn ddf_text(self) -> &'static str {
        match self {
            StandardObject::DmAcc => include_str!("../ddf/dmacc.ddf"),
            StandardObject::DevInfo => include_str!("../ddf/devinfo.ddf"),
            StandardObject::DevDetail => include_str!("../ddf/devdetail.ddf"),
            StandardObject::Inbox => include_str!("../ddf/inbox.ddf"),
        }
    }

    /// The MO identifier (StdObj 1.2; DM 1.3 identifiers unconfirmed, see `docs/dm13-decisions.md`).
    pub fn mo_id(self) -> &'static str {
        match self {
            StandardObject::DmAcc => "urn:oma:mo:oma-dm-dmacc:1.0",
            StandardObject::DevInfo => "urn:oma:mo:oma-dm-devinfo:1.0",
            StandardObject::DevDetail => "urn:oma:mo:oma-dm-devdetail:1.0",
            StandardObject::Inbox => "urn:oma:mo:oma-dm-inbox:1.0",
        }
    }

    /// The root of the object in the device tree.
    pub fn root(self) -> Uri {
        let name = match self {
            StandardObject::DmAcc => "DMAcc",
            StandardObject::DevInfo => "DevInfo",
            StandardObject::DevDetail => "DevDetail",
            StandardObject::Inbox => "Inbox",
        };
        Uri::root().child(name).unwrap_or_default()
    }

    /// The parsed DDF.
    pub fn ddf(self) -> Result<Ddf, DdfError> {
        let el = omadm_proto::xml::parse_element(self.ddf_text().as_bytes(), &Limits::default())
            .map_err(|e| DdfError { path: String::new(), message: e.to_string() })?;
        Ddf::from_element(&el)
    }
}

/// What the device says about itself in DevInfo and DevDetail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDescription {
    /// DevInfo/DevId, e.g. `IMEI:493005100592800`.
    pub dev_id: String,
    /// DevInfo/Man.
    pub man: String,
    /// DevInfo/Mod.
    pub model: String,
    /// DevInfo/DmV.
    pub dm_version: String,
    /// DevInfo/Lang.
    pub lang: String,
    /// DevDetail/DevTyp.
    pub dev_type: String,
    /// DevDetail/OEM.
    pub oem: String,
    /// DevDetail/FwV.
    pub fw_version: String,
    /// DevDetail/SwV.
    pub sw_version: String,
    /// DevDetail/HwV.
    pub hw_version: String,
    /// DevDetail/LrgObj.
    pub large_objects: bool,
    /// DevDetail/URI limits.
    pub uri_limits: UriLimits,
}

/// A configuration whose Inbox places DMAcc accounts under `./DMAcc`.
pub fn standard_config() -> TreeConfig {
    TreeConfig {
        mo_homes: vec![(StandardObject::DmAcc.mo_id().to_string(), StandardObject::DmAcc.root())],
        ..TreeConfig::default()
    }
}

fn ddf_error(e: DdfError) -> TreeError {
    TreeError::refused(StatusCode::CommandFailed, format!("shipped DDF: {e}"))
}

/// Mounts the four DDFs and creates their permanent nodes (one transaction). DevInfo and
/// DevDetail are readable by every server, DMAcc is readable by all and changed only by the
/// device (bootstrap) or by accounts' own ACLs, and the Inbox takes Adds only.
pub fn install<S: Store>(tree: &mut Tree<S>, device: &DeviceDescription) -> TreeResult<()> {
    for obj in StandardObject::ALL {
        tree.mount_ddf(&obj.ddf().map_err(ddf_error)?, &Uri::root()).map_err(ddf_error)?;
    }
    let leaf = |format: Format, v: &str| {
        let mut r = NodeRecord::leaf(format, "text/plain", v.as_bytes().to_vec());
        r.scope = Scope::Permanent;
        r
    };
    let interior = |mo: &str, acl: &str| -> TreeResult<NodeRecord> {
        let mut r = NodeRecord::interior(mo);
        r.scope = Scope::Permanent;
        r.acl = Acl::parse(acl).map_err(|e| TreeError::refused(StatusCode::CommandFailed, e.to_string()))?;
        Ok(r)
    };
    let u = |s: &str| Uri::parse(s).map_err(TreeError::from);
    let limits = device.uri_limits;
    tree.run(|tx| {
        tx.put_node(&u("./DevInfo")?, interior(StandardObject::DevInfo.mo_id(), "Get=*")?)?;
        for (name, v) in [
            ("DevId", &device.dev_id),
            ("Man", &device.man),
            ("Mod", &device.model),
            ("DmV", &device.dm_version),
            ("Lang", &device.lang),
        ] {
            tx.put_node(&u(&format!("./DevInfo/{name}"))?, leaf(Format::Chr, v))?;
        }
        tx.put_node(&u("./DevDetail")?, interior(StandardObject::DevDetail.mo_id(), "Get=*")?)?;
        tx.put_node(&u("./DevDetail/URI")?, interior("", "")?)?;
        for (name, v) in
            [("MaxDepth", limits.max_depth), ("MaxTotLen", limits.max_tot_len), ("MaxSegLen", limits.max_seg_len)]
        {
            tx.put_node(&u(&format!("./DevDetail/URI/{name}"))?, leaf(Format::Chr, &v.to_string()))?;
        }
        for (name, v) in [
            ("DevTyp", &device.dev_type),
            ("OEM", &device.oem),
            ("FwV", &device.fw_version),
            ("SwV", &device.sw_version),
            ("HwV", &device.hw_version),
        ] {
            tx.put_node(&u(&format!("./DevDetail/{name}"))?, leaf(Format::Chr, v))?;
        }
        tx.put_node(
            &u("./DevDetail/LrgObj")?,
            leaf(Format::Bool, if device.large_objects { "true" } else { "false" }),
        )?;
        tx.put_node(&u("./DMAcc")?, interior("", "Get=*")?)?;
        tx.put_node(&u("./Inbox")?, interior(StandardObject::Inbox.mo_id(), "Add=*")?)?;
        tx.validate(&Uri::root()).and_then(|v| match v.is_empty() {
            true => Ok(()),
            false => Err(TreeError::refused(StatusCode::CommandFailed, v.join("; "))),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddf::Severity;

    #[test]
    fn shipped_ddfs_parse_and_check_clean() {
        for obj in StandardObject::ALL {
            let ddf = obj.ddf().unwrap();
            assert!(ddf.check().iter().all(|i| i.severity == Severity::Warning), "{obj:?}: {:?}", ddf.check());
            assert_eq!(ddf.top_level_uris(&Uri::root())[0].as_ref().unwrap(), &obj.root());
            // the generated DDF (our model written back) parses to the same description
            assert_eq!(Ddf::from_element(&ddf.to_element()).unwrap(), ddf);
        }
    }
}
