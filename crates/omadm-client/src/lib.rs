//! OMA DM device-side client (issue 5): the session engine and its bindings.
