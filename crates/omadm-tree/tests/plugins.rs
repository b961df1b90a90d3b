//! Plugins: a battery level read live on Get, a reboot on Exec, a firmware package staged on
//! Replace and applied only when the transaction commits.

use std::sync::{Arc, Mutex};

use omadm_proto::{Format, StatusCode};
use omadm_tree::*;

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}

#[derive(Default)]
struct Device {
    battery: u8,
    reboots: u32,
    firmware: Vec<u8>,
    /// Bytes of flash free for a firmware package (0 = unlimited); checked in prepare.
    space: usize,
    /// How often the plugin was told to roll back.
    rollbacks: u32,
}

struct Vendor {
    dev: Arc<Mutex<Device>>,
    staged: Option<Vec<u8>>,
}

impl Plugin for Vendor {
    fn node(&self, rel: &[String]) -> TreeResult<Option<NodeRecord>> {
        let dev = self.dev.lock().unwrap();
        Ok(match rel.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            [] => Some(NodeRecord::interior("com.example/1.0/Vendor")),
            ["Battery"] => Some(NodeRecord::leaf(Format::Int, "text/plain", dev.battery.to_string().into_bytes())),
            ["Reboot"] => Some(NodeRecord::leaf(Format::Null, "text/plain", Vec::new())),
            ["Firmware"] => Some(NodeRecord::leaf(Format::Bin, "application/octet-stream", dev.firmware.clone())),
            _ => None,
        })
    }
    fn children(&self, rel: &[String]) -> TreeResult<Vec<String>> {
        Ok(if rel.is_empty() { vec!["Battery".into(), "Firmware".into(), "Reboot".into()] } else { Vec::new() })
    }
    fn replace(&mut self, rel: &[String], content: &Content) -> TreeResult<()> {
        match rel {
            [n] if n == "Firmware" => {
                self.staged = Some(content.data.clone());
                Ok(())
            }
            _ => Err(TreeError::refused(StatusCode::CommandNotAllowed, "read-only")),
        }
    }
    fn exec(&mut self, rel: &[String], _: &[u8], _: Option<&str>) -> TreeResult<StatusCode> {
        match rel {
            [n] if n == "Reboot" => {
                self.dev.lock().unwrap().reboots += 1;
                Ok(StatusCode::AcceptedForProcessing)
            }
            _ => Err(TreeError::refused(StatusCode::CommandNotAllowed, "not executable")),
        }
    }
    fn prepare(&mut self) -> TreeResult<()> {
        let space = self.dev.lock().unwrap().space;
        match &self.staged {
            Some(fw) if space > 0 && fw.len() > space => {
                Err(TreeError::refused(StatusCode::DeviceFull, "no room for the firmware package"))
            }
            _ => Ok(()),
        }
    }
    fn commit(&mut self) -> TreeResult<()> {
        if let Some(fw) = self.staged.take() {
            self.dev.lock().unwrap().firmware = fw;
        }
        Ok(())
    }
    fn rollback(&mut self) {
        self.staged = None;
        self.dev.lock().unwrap().rollbacks += 1;
    }
}

#[test]
fn vendor_plugin_backs_a_subtree() {
    let dev = Arc::new(Mutex::new(Device { battery: 80, ..Device::default() }));
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    tree.run(|tx| tx.add(&Caller::device(), &t("./Vendor"), Content::interior(None))).unwrap();
    tree.run(|tx| tx.replace(&Caller::device(), &t("./Vendor?prop=ACL"), Content::chr("Get=*&Replace=srv&Exec=srv")))
        .unwrap();
    tree.mount_plugin(Uri::parse("./Vendor/Dev").unwrap(), Box::new(Vendor { dev: dev.clone(), staged: None }));
    let srv = Caller::server(ServerId::new("srv").unwrap(), DmVersion::V1_2);
    let other = Caller::server(ServerId::new("other").unwrap(), DmVersion::V1_2);
    let get = |tree: &mut Tree<MemStore>, c: &Caller, p: &str| -> TreeResult<Vec<u8>> {
        match tree.begin().get(c, &t(p))? {
            GetResult::Value(v) => Ok(v.data),
            _ => panic!(),
        }
    };
    assert_eq!(get(&mut tree, &srv, "./Vendor/Dev/Battery").unwrap(), b"80");
    dev.lock().unwrap().battery = 42;
    assert_eq!(get(&mut tree, &srv, "./Vendor/Dev/Battery").unwrap(), b"42", "read live");
    assert_eq!(get(&mut tree, &srv, "./Vendor").unwrap(), b"Dev", "the mount is a child of its parent");
    assert_eq!(get(&mut tree, &srv, "./Vendor/Dev").unwrap(), b"Battery/Firmware/Reboot");
    // Exec: ACL-checked, then dispatched
    assert_eq!(tree.begin().exec(&other, &t("./Vendor/Dev/Reboot"), b"", None).unwrap_err().status().code(), 425);
    assert_eq!(
        tree.begin().exec(&srv, &t("./Vendor/Dev/Reboot"), b"", None).unwrap(),
        StatusCode::AcceptedForProcessing
    );
    assert_eq!(dev.lock().unwrap().reboots, 1);
    // Replace is staged until commit; a rolled-back transaction leaves the firmware alone
    let mut tx = tree.begin();
    tx.replace(&srv, &t("./Vendor/Dev/Firmware"), Content::new(Format::Bin, b"v2".to_vec())).unwrap();
    tx.rollback();
    assert!(dev.lock().unwrap().firmware.is_empty());
    let mut tx = tree.begin();
    tx.replace(&srv, &t("./Vendor/Dev/Firmware"), Content::new(Format::Bin, b"v2".to_vec())).unwrap();
    tx.commit().unwrap();
    assert_eq!(dev.lock().unwrap().firmware, b"v2");
    assert_eq!(
        tree.begin().replace(&srv, &t("./Vendor/Dev/Battery"), Content::chr("1")).unwrap_err().status().code(),
        405
    );
    assert_eq!(tree.begin().delete(&srv, &t("./Vendor/Dev")).unwrap_err().status().code(), 425);
    // structure queries include the plugin's nodes in order
    let tx = tree.begin();
    let GetResult::List(items) = tx.get(&srv, &t("./Vendor?list=Struct")).unwrap() else { panic!() };
    let uris: Vec<String> = items.map(|i| i.unwrap().uri.to_string()).collect();
    assert_eq!(
        uris,
        ["./Vendor", "./Vendor/Dev", "./Vendor/Dev/Battery", "./Vendor/Dev/Firmware", "./Vendor/Dev/Reboot"]
    );
}

/// A store whose next `apply` fails when told to (a full disk, an I/O error).
struct FlakyStore {
    inner: MemStore,
    fail: Arc<Mutex<bool>>,
}

impl Store for FlakyStore {
    fn get(&self, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        self.inner.get(key)
    }
    fn scan(
        &self,
        lower: std::ops::Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        self.inner.scan(lower, prefix, limit)
    }
    fn apply(&mut self, batch: Batch) -> Result<(), StoreError> {
        if std::mem::take(&mut *self.fail.lock().unwrap()) {
            return Err(StoreError("disk full".into()));
        }
        self.inner.apply(batch)
    }
}

/// An Atomic that writes a stored leaf and the plugin's firmware is all or nothing, whichever
/// side fails: a plugin refusing in prepare undoes the stored write, a failed store write rolls
/// the plugin back, and only when both succeed do both change.
#[test]
fn atomic_across_store_and_plugin_is_all_or_nothing() {
    let dev = Arc::new(Mutex::new(Device { space: 4, ..Device::default() }));
    let fail = Arc::new(Mutex::new(false));
    let store = FlakyStore { inner: MemStore::new(), fail: fail.clone() };
    let mut tree = Tree::open(store, TreeConfig::default()).unwrap();
    tree.run(|tx| tx.add(&Caller::device(), &t("./Vendor/Version"), Content::chr("v1"))).unwrap();
    tree.mount_plugin(Uri::parse("./Vendor/Dev").unwrap(), Box::new(Vendor { dev: dev.clone(), staged: None }));
    let dm = Caller::device();
    let stored_version = |tree: &mut Tree<FlakyStore>| {
        tree.begin().node(&Uri::parse("./Vendor/Version").unwrap()).unwrap().unwrap().value
    };
    let atomic = |tree: &mut Tree<FlakyStore>, fw: &[u8], version: &str| -> TreeResult<()> {
        let mut tx = tree.begin();
        tx.replace(&dm, &t("./Vendor/Version"), Content::chr(version))?;
        tx.replace(&dm, &t("./Vendor/Dev/Firmware"), Content::new(Format::Bin, fw.to_vec()))?;
        tx.commit()
    };

    // The plugin refuses in prepare (too big for the flash): the stored Replace is undone.
    let err = atomic(&mut tree, b"too large", "v2").unwrap_err();
    assert_eq!(err.status(), StatusCode::DeviceFull);
    assert_eq!(stored_version(&mut tree), b"v1");
    assert!(dev.lock().unwrap().firmware.is_empty());
    assert_eq!(dev.lock().unwrap().rollbacks, 1);

    // The store fails after the plugin prepared: the plugin is rolled back, nothing applied.
    *fail.lock().unwrap() = true;
    let err = atomic(&mut tree, b"fw2", "v2").unwrap_err();
    assert_eq!(err.status(), StatusCode::DataStoreFailure);
    assert_eq!(stored_version(&mut tree), b"v1");
    assert!(dev.lock().unwrap().firmware.is_empty(), "the plugin must not apply a failed transaction");
    assert_eq!(dev.lock().unwrap().rollbacks, 2);

    // Both sides succeed: both change.
    atomic(&mut tree, b"fw2", "v2").unwrap();
    assert_eq!(stored_version(&mut tree), b"v2");
    assert_eq!(dev.lock().unwrap().firmware, b"fw2");
    assert_eq!(dev.lock().unwrap().rollbacks, 2);
}
