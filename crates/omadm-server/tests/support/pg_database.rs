//! A PostgreSQL database of one test's own, in the cluster `scripts/postgres` starts
//! (`OMADM_TEST_POSTGRES_URL`): created empty for the test and dropped with it, so that neither
//! a second run nor a parallel test meets what an earlier one stored, and the cluster does not
//! fill up with leftovers. Shared by the server's test suites and the end-to-end harness.

use std::sync::atomic::{AtomicU32, Ordering};

/// One test's database; dropping it drops the database.
pub struct PgDatabase {
    /// The cluster URL the database was created through (`postgres://…/omadm`).
    admin_url: String,
    name: String,
    /// The URL of this database.
    pub url: String,
}

impl PgDatabase {
    /// A fresh database for `test` in the cluster of `OMADM_TEST_POSTGRES_URL`, or `None` when
    /// none is configured. With `OMADM_REQUIRE_POSTGRES=1` (set by `scripts/test`) a missing
    /// cluster is a failure, not a skip.
    #[allow(dead_code)] // each test crate that includes this module uses its own subset
    pub fn for_test(test: &str) -> Option<PgDatabase> {
        match std::env::var("OMADM_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(PgDatabase::create(&url, test)),
            _ => {
                assert!(
                    std::env::var("OMADM_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "OMADM_REQUIRE_POSTGRES=1 but OMADM_TEST_POSTGRES_URL is unset (run scripts/postgres start)"
                );
                eprintln!("skipped: PostgreSQL variant of {test} (OMADM_TEST_POSTGRES_URL not set)");
                None
            }
        }
    }

    /// Creates `omadm_<pid>_<n>_<test>` (dropping a leftover of the same name first) on the
    /// server of `cluster_url`.
    pub fn create(cluster_url: &str, test: &str) -> PgDatabase {
        static N: AtomicU32 = AtomicU32::new(0);
        let test: String =
            test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let mut name = format!("omadm_{}_{}_{test}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        name.truncate(63); // PostgreSQL's identifier length; the pid and counter keep it unique
        let (server, query) = match cluster_url.split_once('?') {
            Some((server, query)) => (server, format!("?{query}")),
            None => (cluster_url, String::new()),
        };
        let (server, _) = server.rsplit_once('/').expect("OMADM_TEST_POSTGRES_URL names a database");
        let database = PgDatabase { admin_url: cluster_url.to_string(), url: format!("{server}/{name}{query}"), name };
        database.execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", database.name)).unwrap();
        database.execute(&format!("CREATE DATABASE \"{}\"", database.name)).unwrap();
        database
    }

    /// Runs one statement on a connection of its own to the cluster's administrative database,
    /// on a thread of its own, so that it works from synchronous tests and from inside an async
    /// test's runtime alike (including from `Drop`).
    fn execute(&self, statement: &str) -> Result<(), String> {
        let (admin_url, statement) = (self.admin_url.clone(), statement.to_string());
        std::thread::spawn(move || {
            use sqlx::{Connection as _, Executor as _};
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
                connection.execute(statement.as_str()).await.map_err(|e| format!("{statement}: {e}"))?;
                connection.close().await.map_err(|e| e.to_string())
            })
        })
        .join()
        .map_err(|_| "the statement's thread panicked".to_string())?
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // FORCE: a test's pool (or a killed server) may still hold connections to it.
        if let Err(e) = self.execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)) {
            eprintln!("WARNING: test database {} left behind: {e}", self.name);
        }
    }
}
