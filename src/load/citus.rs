//! The `citus` setting at work: the check at start that the database has Citus, and how a
//! table this run creates is spread over the cluster (distributed by a key column, a
//! reference table, or refused with a message saying what to configure).
//!
//! Tables that exist are loaded as they are, setting or not: their distribution is read with
//! the catalog (`db::citus`), and the table model refuses what Citus would (widening the
//! distribution column, a unique constraint without it).

use crate::config::CitusSettings;
use crate::db::citus::Distribution;
use crate::error::{Error, Result};
use crate::load::dead_letter::REJECTS_STREAM;
use crate::load::Loader;
use crate::schema::plan::Property;

impl Loader<'_> {
    /// At start: the `citus` setting needs the extension (exit 2 without it).
    pub(super) fn check_citus_setting(&mut self) -> Result<()> {
        let Some(citus) = &self.settings.citus else {
            return Ok(());
        };
        if self.tables.has_citus(&mut self.client)? {
            return Ok(());
        }
        Err(Error::config(
            "\"citus\" is set, but the database has no citus extension (CREATE EXTENSION citus, \
             on a Citus coordinator); remove the setting to load a plain PostgreSQL",
            &citus.origin,
        ))
    }

    /// Before a new table's CREATE is planned: how the `citus` setting spreads it.
    /// `constraints` are the key column lists the table is created with (its primary key and
    /// Mage's unique constraint; none for append-only).
    pub(super) fn plan_citus_table(
        &mut self,
        stream: &str,
        table_id: usize,
        properties: &[Property],
        constraints: [&[String]; 2],
    ) -> std::result::Result<(), String> {
        let Some(citus) = &self.settings.citus else {
            return Ok(());
        };
        let model = self.tables.model_mut(table_id).map_err(|e| e.to_string())?;
        if !model.is_new() || stream == REJECTS_STREAM {
            return Ok(());
        }
        if let Some(distribution) = placement(citus, stream, properties, constraints)? {
            model.create_distributed(distribution);
        }
        Ok(())
    }
}

/// Where the `citus` setting puts a new table of `stream`: `None` leaves it a plain table on
/// the coordinator.
fn placement(
    citus: &CitusSettings,
    stream: &str,
    properties: &[Property],
    constraints: [&[String]; 2],
) -> std::result::Result<Option<Distribution>, String> {
    if citus.is_reference_table(stream) {
        return Ok(Some(Distribution::Reference));
    }
    let configured = citus.distribution_column(stream);
    if configured.is_none() && !citus.distribute {
        return Ok(None);
    }
    let key = constraints.iter().find(|keys| !keys.is_empty());
    let column = match (configured, key) {
        (Some(column), _) => {
            if !properties.iter().any(|p| p.column == column) {
                return Err(format!(
                    "\"citus\".\"distribution_column\" names \"{column}\", which is not a column \
                     of this stream (columns are named as created, after name cleaning)"
                ));
            }
            column.to_string()
        }
        (None, Some(keys)) => keys[0].clone(),
        (None, None) => {
            return Err(
                "has no key to distribute its new table by: give it key_properties, name its \
                 column in \"citus\".\"distribution_column\", or list it in \
                 \"citus\".\"reference_tables\""
                    .to_string(),
            )
        }
    };
    // Citus refuses a unique constraint that lacks the distribution column.
    if let Some(keys) = constraints
        .iter()
        .find(|keys| !keys.is_empty() && !keys.contains(&column))
    {
        let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        return Err(format!(
            "cannot be distributed by \"{column}\": its key ({}) must contain the distribution \
             column (Citus enforces unique keys shard by shard)",
            keys.join(", ")
        ));
    }
    Ok(Some(Distribution::Distributed { column }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(column: &str) -> Property {
        Property {
            name: column.to_string(),
            column: column.to_string(),
            type_name: "bigint".to_string(),
            metadata: None,
            array_of_objects: false,
        }
    }

    fn settings(distribute: bool) -> CitusSettings {
        CitusSettings {
            distribute,
            distribution_columns: vec![("orders".into(), "customer_id".into())],
            reference_tables: vec!["countries".into()],
            origin: String::new(),
        }
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn keyed_streams_are_distributed_by_their_first_key_column() {
        let columns = [property("id"), property("name")];
        let key = keys(&["id", "name"]);
        assert_eq!(
            placement(&settings(true), "users", &columns, [&key, &[]]),
            Ok(Some(Distribution::Distributed {
                column: "id".into()
            }))
        );
        assert_eq!(
            placement(&settings(false), "users", &columns, [&key, &[]]),
            Ok(None)
        );
    }

    #[test]
    fn the_configured_column_must_be_a_column_and_in_every_key() {
        let columns = [property("id"), property("customer_id")];
        let key = keys(&["customer_id", "id"]);
        assert_eq!(
            placement(&settings(false), "orders", &columns, [&key, &[]]),
            Ok(Some(Distribution::Distributed {
                column: "customer_id".into()
            }))
        );
        let err =
            placement(&settings(true), "orders", &columns, [&keys(&["id"]), &[]]).unwrap_err();
        assert!(
            err.contains("must contain the distribution column"),
            "{err}"
        );
        let err = placement(&settings(true), "orders", &[property("id")], [&[], &[]]).unwrap_err();
        assert!(err.contains("not a column of this stream"), "{err}");
    }

    #[test]
    fn mage_unique_constraints_must_contain_the_distribution_column() {
        let columns = [property("id"), property("email")];
        let err = placement(
            &settings(true),
            "users",
            &columns,
            [&keys(&["id"]), &keys(&["email"])],
        )
        .unwrap_err();
        assert!(err.contains("(\"email\")"), "{err}");
    }

    #[test]
    fn keyless_streams_need_a_column_or_a_reference_table() {
        let columns = [property("id")];
        let err = placement(&settings(true), "events", &columns, [&[], &[]]).unwrap_err();
        assert!(err.contains("reference_tables"), "{err}");
        assert_eq!(
            placement(&settings(true), "countries", &columns, [&[], &[]]),
            Ok(Some(Distribution::Reference))
        );
    }
}
