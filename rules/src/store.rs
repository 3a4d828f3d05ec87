//! The embedded store (redb) that keeps the engine's state across restarts.
//!
//! This is the engine's only I/O, and it is kept out of the engine: the
//! runtime moves [`PersistBatch`]es from [`crate::Engine::take_changes`] into
//! [`Store::apply`] (one write transaction each: a crash leaves either the
//! whole batch or none of it), and feeds [`Store::load`] to
//! [`crate::Engine::restore`] at start.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use crate::engine::{PersistBatch, PersistOp, Table};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("rule state store: {0}")]
pub struct StoreError(Box<redb::Error>);

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> StoreError {
        StoreError(Box::new(e))
    }
}

fn def(t: Table) -> TableDefinition<'static, &'static str, &'static str> {
    TableDefinition::new(t.name())
}

/// The rule-state database.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path).map_err(redb::Error::from)?;
        // Create every table, so reads never meet a missing one.
        let tx = db.begin_write().map_err(redb::Error::from)?;
        for t in Table::ALL {
            tx.open_table(def(t)).map_err(redb::Error::from)?;
        }
        tx.commit().map_err(redb::Error::from)?;
        Ok(Store { db })
    }

    /// Writes a batch atomically.
    pub fn apply(&self, batch: &PersistBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(redb::Error::from)?;
        for t in Table::ALL {
            let mut table = tx.open_table(def(t)).map_err(redb::Error::from)?;
            for op in &batch.ops {
                match op {
                    PersistOp::Put { table: tt, key, value } if *tt == t => {
                        table.insert(key.as_str(), value.as_str()).map_err(redb::Error::from)?;
                    }
                    PersistOp::Delete { table: tt, key } if *tt == t => {
                        table.remove(key.as_str()).map_err(redb::Error::from)?;
                    }
                    _ => {}
                }
            }
        }
        tx.commit().map_err(redb::Error::from)?;
        Ok(())
    }

    /// Every record, for [`crate::Engine::restore`].
    pub fn load(&self) -> Result<Vec<(Table, String, String)>, StoreError> {
        let tx = self.db.begin_read().map_err(redb::Error::from)?;
        let mut out = Vec::new();
        for t in Table::ALL {
            let table = tx.open_table(def(t)).map_err(redb::Error::from)?;
            for row in table.iter().map_err(redb::Error::from)? {
                let (k, v) = row.map_err(redb::Error::from)?;
                out.push((t, k.value().to_owned(), v.value().to_owned()));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.redb");
        {
            let store = Store::open(&path).unwrap();
            store
                .apply(&PersistBatch {
                    ops: vec![
                        PersistOp::Put { table: Table::Cache, key: "a".into(), value: "1".into() },
                        PersistOp::Put { table: Table::Meta, key: "meta".into(), value: "{}".into() },
                        PersistOp::Put { table: Table::Cache, key: "b".into(), value: "2".into() },
                    ],
                })
                .unwrap();
            store
                .apply(&PersistBatch {
                    ops: vec![PersistOp::Delete { table: Table::Cache, key: "a".into() }],
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let mut rows = store.load().unwrap();
        rows.sort();
        assert_eq!(
            rows,
            vec![(Table::Cache, "b".into(), "2".into()), (Table::Meta, "meta".into(), "{}".into())]
        );
    }
}
