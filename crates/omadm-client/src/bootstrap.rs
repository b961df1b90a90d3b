//! x
//! NOTE FROM THE COORDINATOR (remove this note when you write this module): the WAP-profile
//! document codec already exists in omadm-security: `omadm_security::provisioning`
//! (`ProvisioningDoc::decode` reads XML or WBXML, `.w7_accounts()` gives typed `W7Account`s with
//! addresses, auths incl. `AppAuth::dmacc_level()`, `init`). Use it; do not write a second parser.
