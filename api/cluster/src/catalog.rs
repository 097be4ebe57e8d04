//! The hunt catalog: each hunt's definition (as posted, JSON) under
//! `P/hunts/{id}`, created together with its products' stock ledgers in
//! one transaction, so a hunt is never visible without its stock.

use crate::{Cluster, ClusterError};
use etcd_client::{Compare, CompareOp, Txn, TxnOp};

/// The answer to [`Cluster::define_hunt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defined {
    /// Whether this call created it (`false`: the same definition existed).
    pub created: bool,
    /// The etcd revision of the definition.
    pub revision: i64,
}

impl Cluster {
    /// Defines hunt `id` cluster-wide: `definition` is its canonical JSON
    /// text and `stock` each product's initial units, which go to the
    /// global ledger. Posting the same text again is idempotent; another
    /// under the same id is [`ClusterError::HuntConflict`].
    pub async fn define_hunt(
        &self,
        id: &str,
        definition: &str,
        stock: &[(String, u64)],
    ) -> Result<Defined, ClusterError> {
        let key = self.keys.hunt(id);
        let mut puts = vec![TxnOp::put(key.clone(), definition, None)];
        for (sku, units) in stock {
            puts.push(TxnOp::put(self.keys.stock(id, sku), units.to_string(), None));
        }
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then(puts)
            .or_else([TxnOp::get(key.clone(), None)]);
        let r = self.client.clone().txn(txn).await?;
        let revision = r.header().map_or(0, |h| h.revision());
        if r.succeeded() {
            return Ok(Defined {
                created: true,
                revision,
            });
        }
        let existing: serde_json::Value = crate::ownership::first_value(&r, &key)?;
        let posted: serde_json::Value = serde_json::from_str(definition).map_err(|e| ClusterError::Corrupt {
            key: key.clone(),
            why: format!("posted definition is not JSON: {e}"),
        })?;
        if existing == posted {
            Ok(Defined {
                created: false,
                revision,
            })
        } else {
            Err(ClusterError::HuntConflict(id.to_owned()))
        }
    }

    /// One hunt of the catalog: `(definition JSON text, mod_revision)`,
    /// one key read.
    pub async fn hunt(&self, id: &str) -> Result<Option<(String, i64)>, ClusterError> {
        let r = self.client.clone().get(self.keys.hunt(id), None).await?;
        Ok(r.kvs()
            .first()
            .map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.mod_revision())))
    }

    /// Every hunt of the catalog: `(id, definition JSON text, mod_revision)`.
    pub async fn hunts(&self) -> Result<Vec<(String, String, i64)>, ClusterError> {
        let prefix = self.keys.hunts();
        Ok(self
            .range(prefix.clone())
            .await?
            .into_iter()
            .map(|(k, v, rev)| {
                let id = k.strip_prefix(&prefix).unwrap_or(&k).to_owned();
                (id, String::from_utf8_lossy(&v).into_owned(), rev)
            })
            .collect())
    }
}
