//! Schema inspection in Keen's shape (keen-semantics §9.8).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::project::Project;

/// One collection's schema: `{"name", "properties", "url"}` plus
/// `property_types` for paths written with several types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionSchema {
    /// The collection's name.
    pub name: String,
    /// Path → the most recently written type.
    pub properties: BTreeMap<String, String>,
    /// Keen's resource URL of the collection.
    pub url: String,
    /// Path → every type, for paths written with more than one type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub property_types: BTreeMap<String, Vec<String>>,
}

/// One property's schema: `{"property_name", "type", "url"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertySchema {
    /// The dotted path.
    pub property_name: String,
    /// The most recently written type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Keen's resource URL of the property.
    pub url: String,
}

impl Project {
    /// Every collection's schema, sorted by name (`GET …/events`).
    pub fn schema(&self) -> Vec<CollectionSchema> {
        self.collection_names()
            .into_iter()
            .filter_map(|n| self.collection_schema(&n).ok())
            .collect()
    }

    /// One collection's schema (`GET …/events/{collection}`).
    pub fn collection_schema(&self, collection: &str) -> Result<CollectionSchema> {
        let snap = self
            .snapshot(collection)
            .ok_or_else(|| Error::NotFound { what: format!("collection {collection:?}") })?;
        let schema = snap.schema();
        let mut properties = BTreeMap::new();
        let mut property_types = BTreeMap::new();
        for path in schema.paths() {
            if let Some(t) = schema.latest_type(path) {
                properties.insert(path.to_string(), t.as_str().to_string());
            }
            let types = schema.types_of(path);
            if types.len() > 1 {
                let mut names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
                names.sort();
                property_types.insert(path.to_string(), names);
            }
        }
        Ok(CollectionSchema {
            name: collection.to_string(),
            properties,
            url: format!("/3.0/projects/{}/events/{}", self.id(), collection),
            property_types,
        })
    }

    /// One property's schema (`GET …/events/{collection}/properties/{path}`).
    pub fn property_schema(&self, collection: &str, path: &str) -> Result<PropertySchema> {
        let cs = self.collection_schema(collection)?;
        let ty = cs.properties.get(path).ok_or_else(|| Error::NotFound {
            what: format!("property {path:?} of collection {collection:?}"),
        })?;
        Ok(PropertySchema {
            property_name: path.to_string(),
            ty: ty.clone(),
            url: format!("/3.0/projects/{}/events/{}/properties/{}", self.id(), collection, path),
        })
    }
}
