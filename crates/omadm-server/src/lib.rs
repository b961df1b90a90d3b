//! OMA DM server (issue 6): the session engine, registry, storage and bindings.
