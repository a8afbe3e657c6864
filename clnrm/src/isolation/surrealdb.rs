//! SurrealDB: a namespace (with one database in it) per test, removed when the test ends.
//!
//! Names are random, so the processes of one `cargo nextest run` sharing a server never pick
//! the same one; the test's URL names them (`?ns=…&db=…`), and so do `CLNRM_<NAME>_NS` /
//! `_DB` for a suite's commands.

use crate::plugins::surql;

/// The database made in every lent namespace.
const DATABASE: &str = "test";

/// One test's namespace and database inside a shared SurrealDB server.
#[derive(Debug, Clone)]
pub(crate) struct SurrealLease {
    /// The server's URL as root (no namespace).
    root_url: String,
    /// The namespace.
    pub(crate) ns: String,
    /// The database in it.
    pub(crate) db: String,
}

impl SurrealLease {
    /// Defines a fresh namespace and its database on the server of `root_url`.
    pub(crate) async fn lease(root_url: &str) -> Result<Self, String> {
        use rand::Rng;
        let suffix: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(12)
            .map(|c| char::from(c).to_ascii_lowercase())
            .collect();
        let lease = SurrealLease {
            root_url: base(root_url),
            ns: format!("clnrm_{suffix}"),
            db: DATABASE.to_owned(),
        };
        surql(
            &lease.root_url,
            &format!(
                "DEFINE NAMESPACE {ns}; USE NS {ns}; DEFINE DATABASE {db};",
                ns = lease.ns,
                db = lease.db
            ),
        )
        .await
        .map_err(|e| format!("cannot define namespace {}: {e}", lease.ns))?;
        Ok(lease)
    }

    /// The test's URL: the server's, naming the namespace and database.
    pub(crate) fn url(&self) -> String {
        format!("{}?ns={}&db={}", self.root_url, self.ns, self.db)
    }

    /// Removes the namespace and everything in it.
    pub(crate) async fn release(self) {
        if let Err(e) = surql(
            &self.root_url,
            &format!("REMOVE NAMESPACE IF EXISTS {};", self.ns),
        )
        .await
        {
            tracing::warn!("cannot remove surrealdb namespace {}: {e}", self.ns);
        }
    }
}

/// `url` without a query (the server's root URL).
fn base(url: &str) -> String {
    let end = url.find('?').unwrap_or(url.len());
    url[..end].trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_url_names_its_namespace_and_database() {
        let lease = SurrealLease {
            root_url: base("http://root:pw@127.0.0.1:8000/?ns=old&db=old"),
            ns: "clnrm_abc".to_owned(),
            db: "test".to_owned(),
        };
        assert_eq!(
            lease.url(),
            "http://root:pw@127.0.0.1:8000?ns=clnrm_abc&db=test"
        );
    }
}
